/** Each error that stops the start has its exit code by type (README "Exit status"). */
import assert from "node:assert/strict";
import { EXIT } from "../../ffi/constants.ts";
import { SyscallError } from "../../ffi/mod.ts";
import { exitCodeOf, isExpected } from "../../src/cli/exit_code.ts";
import { CommandLineError } from "../../src/cli/command_line.ts";
import {
  CommandNotExecutableError,
  CommandNotFoundError,
} from "../../src/cli/resolve_app.ts";
import { StartError } from "../../src/cli/start.ts";
import { ConfigError } from "../../src/config/parse.ts";
import { ChildEnvError } from "../../src/delivery/child_env.ts";
import { ProtectionMissingError } from "../../src/protect/errors.ts";
import { RegionError } from "../../src/region/errors.ts";
import { VaultError } from "../../src/vault/mod.ts";

Deno.test("exit codes by error type: usage 2, missing protection 3, command 127/126, the rest 1", () => {
  const cases: [unknown, number][] = [
    [new ConfigError(["X: bad"]), 2],
    [new CommandLineError("no command"), 2],
    [new ChildEnvError("passthrough"), 2],
    [new VaultError("config", "CLOUDTASER_ENV_MAP"), 2],
    [new ProtectionMissingError("CLOUDTASER_REQUIRE_MLOCK=true but"), 3],
    [new CommandNotFoundError("command x not found"), 127],
    [new CommandNotExecutableError("command x is a directory"), 126],
    // Not a missing protection: a region too large, a NUL in a value.
    [new RegionError("secret region of 9 bytes is too large"), 1],
    [new VaultError("auth", "permission denied"), 1],
    [new StartError("environ_scrubbed failed"), 1],
    [new SyscallError("mmap", 12), 1],
    [new TypeError("a bug"), 1],
  ];
  for (const [e, code] of cases) assert.equal(exitCodeOf(e), code, String(e));
  assert.equal(EXIT.USAGE, 2);
  assert.equal(EXIT.PROTECTION_MISSING, 3);
  for (const [e] of cases.slice(0, -1)) assert.ok(isExpected(e), String(e));
  assert.ok(!isExpected(new TypeError("a bug")));
});
