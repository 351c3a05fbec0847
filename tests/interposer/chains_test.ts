/**
 * Entrypoint chains through the real wrapper (OpenBao, mTLS, the supervisor)
 * in interposer delivery: a shell or a runtime is the app, and starts the
 * real program (build/interposer_probe) the way such entrypoints do. The
 * program reads its secret through getenv from a region of its own; its
 * /proc/<pid>/environ and fds hold no secret, and neither do the app's.
 */
import assert from "node:assert/strict";
import { fdTargets } from "../support/proc.ts";
import {
  allOutput,
  assertNoSecretInOutput,
  logLines,
  put,
  secret,
  sharedServer,
  wrapper,
  wrapperArgs,
} from "../support/wrapper.ts";
import { BUILD, probeLine } from "../support/interposer.ts";

const { server, stop } = sharedServer();
const TOKEN = secret("chain");
const PROBE = BUILD("interposer_probe");
const OPS = ["get", "APP_TOKEN", "where", "APP_TOKEN", "wait"];
const LINE = OPS.join(" ");
const dec = new TextDecoder();

function realPython(): string {
  const out = new Deno.Command("python3", {
    args: ["-c", "import sys; print(sys.executable)"],
  }).outputSync();
  return dec.decode(out.stdout).trim();
}

/** python3 on PATH when it is a script (a pyenv-style shim), else undefined. */
function pythonShim(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const f = `${dir}/python3`;
      const head = Deno.readFileSync(f).subarray(0, 2);
      return head[0] === 0x23 && head[1] === 0x21 ? f : undefined;
    } catch { /* not here */ }
  }
}

const PY = realPython();
const SHIM = pythonShim();
const PROBE_ARGS = JSON.stringify([PROBE, ...OPS]);

const CHAINS: Record<string, string[]> = {
  "bash (fork + execve)": ["/usr/bin/bash", "-c", `${PROBE} ${LINE}; exit $?`],
  "sh -c (dash)": [
    "/bin/sh",
    "-c",
    `${PROBE} ${LINE}; exit $?`,
  ],
  "python3 subprocess.run": [
    PY,
    "-c",
    `import subprocess, sys; sys.exit(subprocess.run(${PROBE_ARGS}).returncode)`,
  ],
  "python3 os.system": [
    PY,
    "-c",
    `import os, sys; sys.exit(os.waitstatus_to_exitcode(os.system("${PROBE} ${LINE}")))`,
  ],
  "node child_process.spawnSync": [
    "/usr/bin/node",
    "-e",
    `process.exit(require("child_process").spawnSync(${PROBE_ARGS}[0], ${PROBE_ARGS}.slice(1), {stdio: "inherit"}).status)`,
  ],
  "node child_process.execSync (a shell)": [
    "/usr/bin/node",
    "-e",
    `require("child_process").execSync("${PROBE} ${LINE}", {stdio: "inherit"})`,
  ],
  "perl system (a list)": [
    "/usr/bin/perl",
    "-e",
    `exit(system(${PROBE_ARGS.slice(1, -1)}) >> 8)`,
  ],
  "perl system (a shell command)": [
    "/usr/bin/perl",
    "-e",
    `exit(system("${PROBE} ${LINE} && true") >> 8)`,
  ],
  "perl exec": ["/usr/bin/perl", "-e", `exec(${PROBE_ARGS.slice(1, -1)})`],
};

async function runChain(
  name: string,
  cmd: string[],
  delivery = "interposer",
  extraEnv: Record<string, string> = {},
) {
  const bao = await server();
  await put(bao, "secret/data/chain/app", { token: TOKEN });
  const child = new Deno.Command(Deno.execPath(), {
    args: wrapperArgs(["--", ...cmd]),
    env: bao.env({
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      CLOUDTASER_SECRET_PATHS: "secret/data/chain/app",
      CLOUDTASER_ENV_MAP: "token=APP_TOKEN",
      CLOUDTASER_DELIVERY: delivery,
      ...extraEnv,
    }),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const stdin = child.stdin.getWriter();
  let out = "";
  let err = "";
  try {
    while (!/^ready \d+$/m.test(out)) {
      const r = await reader.read();
      if (r.done) break;
      out += r.value;
    }
    const gc = Number(/^ready (\d+)$/m.exec(out)?.[1]);
    assert.ok(gc > 0, `${name}: no grandchild reported: ${out}`);
    const environ = dec.decode(Deno.readFileSync(`/proc/${gc}/environ`));
    assert.ok(!environ.includes(TOKEN), `${name}: the value in its environ`);
    assert.ok(!environ.includes("APP_TOKEN="), `${name}: the key`);
    assert.match(Deno.readTextFileSync(`/proc/${gc}/maps`), /\/secretmem/);
    for (
      const pid of [
        gc,
        Number(Deno.readTextFileSync(`/proc/${gc}/stat`).split(" ")[3]),
      ]
    ) {
      for (const [fd, t] of fdTargets(pid)) {
        assert.doesNotMatch(t, /secretmem|memfd:cloudtaser/, `${pid} fd ${fd}`);
      }
    }
  } finally {
    await stdin.close().catch(() => {});
    for (;;) {
      const r = await reader.read().catch(() => ({ done: true, value: "" }));
      if (r.done) break;
      out += r.value;
    }
    const st = await child.status;
    err = await new Response(child.stderr).text();
    allOutput.push(out, err);
    assert.equal(st.code, 0, `${name}: ${err}`);
    assert.ok(
      out.includes(probeLine("get", "APP_TOKEN", TOKEN)),
      `${name}: ${out}`,
    );
    assert.ok(out.includes("where APP_TOKEN secretmem"), `${name}: ${out}`);
  }
  return { stderr: err };
}

for (const [name, cmd] of Object.entries(CHAINS)) {
  Deno.test(`interposer delivery through the wrapper, ${name}: the program it starts reads its secret; no environ holds it`, async () => {
    await runChain(name, cmd);
  });
}

Deno.test({
  name:
    "auto delivery through the wrapper, a #!/usr/bin/env python3 entrypoint (pyenv shim when python3 is one) picks the interposer and its subprocess reads its secret",
  async fn() {
    const dir = Deno.makeTempDirSync({ prefix: "ct-entry-" });
    try {
      const entry = `${dir}/entrypoint.py`;
      Deno.writeTextFileSync(
        entry,
        `#!/usr/bin/env python3\nimport subprocess, sys\nsys.exit(subprocess.run(${PROBE_ARGS}).returncode)\n`,
        { mode: 0o755 },
      );
      const r = await runChain(`entrypoint (${SHIM ?? PY})`, [entry], "auto");
      const start = logLines({ code: 0, signal: null, stdout: "", ...r })
        .find((l) => String(l.message).startsWith("starting"));
      assert.equal(start?.delivery, "interposer", r.stderr);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("through the wrapper, a static program the app starts is refused (EPERM, a line naming it); CLOUDTASER_CHILD_ENV_FALLBACK=true gives it env delivery", async () => {
  const bao = await server();
  await put(bao, "secret/data/chain/app", { token: TOKEN });
  const STATIC = BUILD("interposer_probe_static");
  const run = (extra: Record<string, string>) =>
    wrapper(
      ["--", "/bin/sh", "-c", `${STATIC} get APP_TOKEN; exit $?`],
      bao.env({
        PATH: "/usr/bin:/bin",
        CLOUDTASER_SECRET_PATHS: "secret/data/chain/app",
        CLOUDTASER_ENV_MAP: "token=APP_TOKEN",
        CLOUDTASER_DELIVERY: "interposer",
        ...extra,
      }),
    );
  const refused = await run({});
  assert.equal(refused.code, 126, refused.stderr);
  assert.equal(refused.stdout, "");
  const line = logLines(refused).find((l) =>
    l.program === "cloudtaser-interposer"
  );
  assert.equal(line?.level, "error", refused.stderr);
  assert.match(
    String(line?.message),
    new RegExp(`^exec of ${STATIC} refused: it is statically linked`),
  );
  const allowed = await run({ CLOUDTASER_CHILD_ENV_FALLBACK: "true" });
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.ok(allowed.stdout.includes(probeLine("get", "APP_TOKEN", TOKEN)));
  assert.match(allowed.stderr, /receives its secrets in its environment/);
});

Deno.test("entrypoint chains: no secret in any output", async () => {
  await stop();
  assertNoSecretInOutput([TOKEN]);
});
