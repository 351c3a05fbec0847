#!/usr/bin/env bash
# The main job: installs what is missing, builds, runs the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
deno task demo "$@"
