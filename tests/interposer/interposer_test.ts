/**
 * The getenv interposer with real programs: a glibc-dynamic C probe, python3,
 * node, perl and bash read the secrets, while the kernel's
 * /proc/<app>/environ holds none, /proc/<app>/maps shows the secretmem
 * mapping and /proc/<app>/fd holds no region fd (pidfd_getfd has nothing to
 * steal).
 */
import assert from "node:assert/strict";
import {
  assertEnvironClean,
  assertNoLeak,
  assertRegionMappedNoFd,
  BUILD,
  launch,
  makeSecrets,
  probeLine,
  run,
  sha256,
} from "../support/interposer.ts";

const PROBE = BUILD("interposer_probe");
const INTERPOSER = BUILD("libcloudtaser_interposer.so");

Deno.test("C probe: getenv and environ return the secrets from the secretmem mapping; /proc/<app>/environ, fd hold none", async () => {
  const secrets = makeSecrets("probe");
  const keys = Object.keys(secrets);
  const ops = keys.flatMap((k) => ["get", k, "env", k, "where", k, "errno", k]);
  const app = await launch({
    mode: "interposer",
    secrets,
    cmd: [
      PROBE,
      ...ops,
      "get",
      "CLOUDTASER_SECRET_FD",
      "env",
      "LD_PRELOAD",
      "get",
      "HOME",
      "wait",
    ],
    env: { HOME: "/home/probe" },
  });
  try {
    await app.until("ready");
    assertEnvironClean(app.pid, secrets);
    assertRegionMappedNoFd(app.pid);
    // The interposer itself is what the app loaded.
    const maps = Deno.readTextFileSync(`/proc/${app.pid}/maps`);
    assert.match(maps, /libcloudtaser_interposer\.so/);
  } finally {
    const r = await app.finish();
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    for (const [k, v] of Object.entries(secrets)) {
      assert.ok(lines.includes(probeLine("get", k, v)), `get ${k}`);
      assert.ok(
        lines.includes(probeLine("env", k, v) + " count=1"),
        `env ${k}`,
      );
      assert.ok(lines.includes(`where ${k} secretmem`), `where ${k}`);
      assert.ok(lines.includes(`errno ${k} kept set`), `errno ${k}`);
    }
    assert.ok(lines.includes("get CLOUDTASER_SECRET_FD unset"));
    assert.ok(lines.includes("env LD_PRELOAD unset"));
    assert.ok(lines.includes(probeLine("get", "HOME", "/home/probe")));
    assert.equal(r.stderr, "");
    assertNoLeak(secrets);
  }
});

Deno.test("setenv, unsetenv, putenv, clearenv, secure_getenv: same results as glibc alone", async () => {
  const secrets = makeSecrets("ops");
  const [a, b, c, d] = Object.keys(secrets);
  const ops = [
    ...["get", a, "set0", a, "nope", "get", a, "set", a, "over", "get", a],
    ...["where", a, "unset", b, "get", b, "env", b, "put", `${b}=back`],
    ...["get", b, "put", b, "get", b, "env", b, "set", "NEWVAR", "1"],
    ...["get", "NEWVAR", "errno", "MISSING_X", "secure", c, "secure", d],
    ...["unset", "NEWVAR", "get", "NEWVAR", "get", "HOME", "clear"],
    ...["get", c, "get", "HOME", "env", c, "set", c, "again", "get", c],
    ...["get", d],
  ];
  const withInterposer = await run({
    mode: "interposer",
    secrets,
    cmd: [PROBE, ...ops],
    env: { HOME: "/h" },
  });
  const glibcOnly = await run({
    mode: "env",
    secrets,
    cmd: [PROBE, ...ops],
    env: { HOME: "/h" },
  });
  assert.equal(withInterposer.code, 0, withInterposer.stderr);
  assert.equal(glibcOnly.code, 0, glibcOnly.stderr);
  const norm = (s: string) => s.replace(/^where (\S+) \S+$/gm, "where $1");
  assert.equal(norm(withInterposer.stdout), norm(glibcOnly.stdout));
  // A setenv of a secret key overrides it: the value leaves the mapping.
  assert.match(withInterposer.stdout, new RegExp(`^where ${a} other$`, "m"));
  assert.match(glibcOnly.stdout, /^clear rc=0$/m);
  assertNoLeak(secrets);
});

async function realPython(): Promise<string> {
  // `python3` may be a pyenv shim (a bash script that execs through env),
  // which would consume the region itself; run the real binary.
  const out = await new Deno.Command("python3", {
    args: ["-c", "import sys; print(sys.executable)"],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout).trim();
}

const PY = `
import os, sys, hashlib, ctypes
libc = ctypes.CDLL(None)
libc.getenv.restype = ctypes.c_char_p
def show(src, k, v):
    print(src, k, "unset" if v is None else "%d %s" % (len(v), hashlib.sha256(v).hexdigest()))
for k in sys.argv[1:]:
    show("environ", k, os.environb.get(k.encode()))
    show("getenv", k, libc.getenv(k.encode()))
print("ready", flush=True)
sys.stdin.read()
`;
import { fdTargets } from "../support/proc.ts";
const NODE = `
const { createHash } = require("node:crypto");
const show = (src, k, v) => console.log(src, k, v === undefined || v === null
  ? "unset"
  : Buffer.byteLength(v) + " " + createHash("sha256").update(v).digest("hex"));
for (const k of process.argv.slice(1)) {
  show("environ", k, Object.keys(process.env).includes(k) ? process.env[k] : undefined);
  show("getenv", k, process.env[k]);
}
console.log("ready");
process.stdin.resume();
`;
const PERL = `
use Digest::SHA qw(sha256_hex);
$| = 1;
for my $k (@ARGV) {
  my $v = $ENV{$k};
  for my $src ("environ", "getenv") {
    print "$src $k ", (defined $v ? length($v) . " " . sha256_hex($v) : "unset"), "\\n";
  }
}
print "ready\\n";
while (<STDIN>) {}
`;
const BASH = `
export LC_ALL=C
for k in "$@"; do
  for src in environ getenv; do
    if [[ -v $k ]]; then
      v=\${!k}
      h=$(printf %s "$v" | sha256sum)
      echo "$src $k \${#v} \${h%% *}"
    else
      echo "$src $k unset"
    fi
  done
done
echo ready
cat >/dev/null
true
`;

for (
  const [name, cmd] of [
    ["python3", async () => [await realPython(), "-c", PY]],
    ["node", () => ["node", "-e", NODE]],
    ["perl", () => ["perl", "-e", PERL]],
    ["bash", () => ["bash", "-c", BASH, "bash"]],
  ] as const
) {
  Deno.test(`${name}: its environment object and getenv hold the secrets; /proc/<app>/environ none`, async () => {
    const secrets = makeSecrets(name);
    const app = await launch({
      mode: "interposer",
      secrets,
      cmd: [...await cmd(), ...Object.keys(secrets), "CT_ABSENT_KEY"],
      env: { LD_LIBRARY_PATH: "" },
    });
    try {
      await app.until("ready");
      assertEnvironClean(app.pid, secrets);
      assertRegionMappedNoFd(app.pid);
    } finally {
      const r = await app.finish();
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split("\n");
      for (const [k, v] of Object.entries(secrets)) {
        const want = `${new TextEncoder().encode(v).length} ${await sha256(v)}`;
        for (const src of ["environ", "getenv"]) {
          assert.ok(lines.includes(`${src} ${k} ${want}`), `${src} ${k}`);
        }
      }
      assert.ok(lines.includes("getenv CT_ABSENT_KEY unset"));
      assert.equal(r.stderr, "");
      assertNoLeak(secrets);
    }
  });
}

Deno.test("a program the app execs gets a region and the interposer of its own, not the secrets in its envp", async () => {
  const secrets = makeSecrets("grandchild");
  const [k, v] = Object.entries(secrets)[0];
  const app = await launch({
    mode: "interposer",
    secrets,
    cmd: [PROBE, "get", k, "exec", PROBE, "get", k, "where", k, "wait"],
  });
  try {
    await app.until("ready");
    // Same pid, new image: the kernel's copy of its initial environment.
    const environ = new TextDecoder().decode(
      Deno.readFileSync(`/proc/${app.pid}/environ`),
    );
    assert.ok(!environ.includes(`${k}=`), "the key in the new image's envp");
    assert.ok(!environ.includes(v), "the value in the new image's envp");
    assert.ok(environ.includes("CLOUDTASER_SECRET_FD="));
    assertRegionMappedNoFd(app.pid);
    const maps = Deno.readTextFileSync(`/proc/${app.pid}/maps`);
    assert.match(maps, /libcloudtaser_interposer\.so/);
  } finally {
    const r = await app.finish();
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split(probeLine("get", k, v)).length - 1, 2);
    assert.ok(r.stdout.includes(`where ${k} secretmem`));
    assert.equal(r.stderr, "");
    assertNoLeak(secrets);
  }
});

Deno.test("without CLOUDTASER_SECRET_FD the interposer warns once and changes nothing", async () => {
  const r = await run({
    mode: "interposer",
    secrets: {},
    raw: true,
    cmd: [PROBE, "get", "HOME", "set", "X", "1", "get", "X"],
    env: { HOME: "/h", LD_PRELOAD: INTERPOSER },
  });
  assert.equal(r.code, 0);
  assert.ok(r.stdout.includes(probeLine("get", "HOME", "/h")));
  assert.ok(r.stdout.includes(probeLine("get", "X", "1")));
  const warn = r.stderr.trim().split("\n");
  assert.equal(warn.length, 1, r.stderr);
  const msg = JSON.parse(warn[0]);
  assert.equal(msg.program, "cloudtaser-interposer");
  assert.equal(msg.level, "warning");
  assert.match(msg.message, /CLOUDTASER_SECRET_FD is not set/);
});

Deno.test("a CLOUDTASER_SECRET_FD that is not open, or not a region, is left alone", async () => {
  for (const fd of ["77", "0", "x1"]) {
    const r = await run({
      mode: "interposer",
      secrets: {},
      raw: true,
      cmd: [PROBE, "get", "CLOUDTASER_SECRET_FD", "get", "HOME"],
      env: { HOME: "/h", LD_PRELOAD: INTERPOSER, CLOUDTASER_SECRET_FD: fd },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(probeLine("get", "CLOUDTASER_SECRET_FD", fd)));
    assert.ok(r.stdout.includes(probeLine("get", "HOME", "/h")));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(
      r.stderr,
      /not an fd number|does not name a secret region|cannot map/,
    );
  }
});

Deno.test("a malformed region delivers nothing, is closed, and says so without values", async () => {
  for (const what of ["canary", "count", "unterminated"]) {
    const secrets = makeSecrets(`corrupt-${what}`);
    const keys = Object.keys(secrets);
    const app = await launch({
      mode: "interposer",
      secrets,
      launcherFlags: ["--corrupt", what],
      cmd: [PROBE, "get", keys[0], "get", "CLOUDTASER_SECRET_FD", "wait"],
    });
    try {
      await app.until("ready");
      for (const [fd, t] of fdTargets(app.pid)) {
        assert.doesNotMatch(t, /secretmem/, `fd ${fd} still open`);
      }
      assert.doesNotMatch(
        Deno.readTextFileSync(`/proc/${app.pid}/maps`),
        /secretmem/,
      );
    } finally {
      const r = await app.finish();
      assert.equal(r.code, 0);
      assert.ok(r.stdout.includes(probeLine("get", keys[0])), what);
      assert.ok(r.stdout.includes("get CLOUDTASER_SECRET_FD unset"));
      assert.match(r.stderr, /secret region is malformed/);
      assertNoLeak(secrets);
    }
  }
});

Deno.test("a region in a plain memfd (no memfd_secret in the wrapper) works the same", async () => {
  const secrets = makeSecrets("memfd");
  const [k, v] = Object.entries(secrets)[1];
  const r = await run({
    mode: "interposer",
    secrets,
    launcherFlags: ["--memfd"],
    cmd: [PROBE, "get", k, "where", k],
  });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(probeLine("get", k, v)));
  assertNoLeak(secrets);
});
