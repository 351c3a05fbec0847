/**
 * ELF inspection and the delivery choice: statically linked and musl-linked
 * programs are detected and fall back to env (and really read their secrets
 * there); the parsers survive truncated and hostile input.
 */
import assert from "node:assert/strict";
import {
  bytesSource,
  chooseDelivery,
  detectLibc,
  fallbackWarning,
  inspectTarget,
  parseElf,
  parseShebang,
} from "../../src/delivery/mod.ts";
import {
  assertNoLeak,
  BUILD,
  launch,
  makeSecrets,
  probeLine,
  run,
} from "../support/interposer.ts";

const PROBE = BUILD("interposer_probe");
const STATIC = BUILD("interposer_probe_static");
const MUSL = BUILD("interposer_probe_musl");
const hasMusl = (() => {
  try {
    return Deno.statSync(MUSL).isFile;
  } catch {
    return false;
  }
})();

Deno.test("detectLibc: glibc-dynamic, static, musl, PATH lookup, scripts", () => {
  assert.equal(detectLibc(PROBE), "glibc");
  assert.equal(detectLibc(STATIC), "static");
  assert.equal(detectLibc("bash"), "glibc"); // through PATH
  assert.equal(detectLibc("no-such-command-ct"), "unknown");
  assert.equal(detectLibc("/etc/hostname"), "unknown");
  assert.equal(detectLibc(BUILD("libcloudtaser_interposer.so")), "unknown");
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/sh-script`, "#!/bin/sh\necho hi\n");
    Deno.writeTextFileSync(
      `${dir}/env-script`,
      `#!/usr/bin/env -S ct-app -x\n`,
    );
    Deno.writeTextFileSync(`${dir}/loop`, `#!${dir}/loop\n`);
    Deno.copyFileSync(STATIC, `${dir}/ct-app`);
    for (const f of ["sh-script", "env-script", "loop", "ct-app"]) {
      Deno.chmodSync(`${dir}/${f}`, 0o755);
    }
    assert.equal(detectLibc(`${dir}/sh-script`), "glibc");
    const t = inspectTarget("env-script", `${dir}:/usr/bin:/bin`);
    assert.equal(t.libc, "static");
    assert.equal(t.viaEnv, true);
    assert.deepEqual(t.chain.at(-1), `${dir}/ct-app`);
    assert.equal(detectLibc(`${dir}/loop`), "unknown"); // bounded recursion
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test({
  name: "musl-linked program: detected as musl",
  ignore: !hasMusl,
  fn() {
    assert.equal(detectLibc(MUSL), "musl");
  },
});

Deno.test("chooseDelivery: interposer only for glibc-dynamic, env with a warning elsewhere", () => {
  assert.deepEqual(chooseDelivery("auto", inspectTarget(PROBE)), {
    delivery: "interposer",
  });
  assert.deepEqual(chooseDelivery("interposer", "glibc"), {
    delivery: "interposer",
  });
  assert.deepEqual(chooseDelivery("env", "glibc"), { delivery: "env" });
  assert.deepEqual(chooseDelivery("fd", "static"), { delivery: "fd" });
  for (const libc of ["static", "musl", "unknown"] as const) {
    for (const req of ["auto", "interposer"] as const) {
      const c = chooseDelivery(req, libc);
      assert.equal(c.delivery, "env");
      assert.deepEqual(c.fallback, {
        cause: libc === "unknown" ? "unknown-libc" : libc,
        program: "the target",
      });
      assert.match(
        fallbackWarning(req, c.fallback!),
        new RegExp(`CLOUDTASER_DELIVERY=${req} falls back to env`),
      );
    }
  }
  const st = chooseDelivery("auto", inspectTarget(STATIC));
  assert.match(fallbackWarning("auto", st.fallback!), /statically linked/);
  const go = chooseDelivery("auto", {
    command: "app",
    chain: ["/app"],
    libc: "glibc",
    viaEnv: false,
    go: true,
  });
  assert.deepEqual(go.fallback, { cause: "go", program: "/app" });
  assert.match(fallbackWarning("auto", go.fallback!), /Go program/);
  // A script run through env that ends in a glibc program: the interposer
  // follows the execs (exec_test.ts), so it keeps interposer delivery.
  const viaEnv = chooseDelivery("auto", {
    command: "app.py",
    chain: ["/app/app.py", "/usr/bin/env", "/usr/bin/python3"],
    libc: "glibc",
    viaEnv: true,
    go: false,
  });
  assert.deepEqual(viaEnv, { delivery: "interposer" });
});

Deno.test("auto: a #!/usr/bin/env script ending in a glibc program gets interposer delivery, and the chain reads its secrets", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.copyFileSync(PROBE, `${dir}/ct-probe`);
    Deno.writeTextFileSync(
      `${dir}/entry`,
      `#!/usr/bin/env ct-probe\n`,
      { mode: 0o755 },
    );
    Deno.chmodSync(`${dir}/ct-probe`, 0o755);
    const path = `${dir}:/usr/bin:/bin`;
    const t = inspectTarget("entry", path);
    assert.equal(t.viaEnv, true);
    assert.equal(t.libc, "glibc");
    assert.deepEqual(chooseDelivery("auto", t), { delivery: "interposer" });
    // The kernel runs `env ct-probe ENTRY ARGS`; the probe treats the
    // script's path as an unknown op, so run the chain as env would.
    const secrets = makeSecrets("viaenv");
    const [k, v] = Object.entries(secrets)[0];
    const r = await run({
      mode: "interposer",
      secrets,
      cmd: ["/usr/bin/env", "ct-probe", "get", k, "where", k],
      env: { PATH: path },
    });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(probeLine("get", k, v)));
    assert.ok(r.stdout.includes(`where ${k} secretmem`));
    assertNoLeak(secrets);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

for (
  const [name, bin, ok] of [
    ["static", STATIC, true],
    ["musl", MUSL, hasMusl],
  ] as const
) {
  Deno.test({
    name:
      `${name} program: falls back to env and reads its secrets there; the interposer could not have served it`,
    ignore: !ok,
    async fn() {
      const secrets = makeSecrets(name);
      const [k, v] = Object.entries(secrets)[1];
      const choice = chooseDelivery("auto", inspectTarget(bin));
      assert.equal(choice.delivery, "env");
      for (const val of Object.values(secrets)) {
        const warning = fallbackWarning("auto", choice.fallback!);
        if (val) assert.ok(!warning.includes(val));
      }
      const viaEnv = await run({
        mode: choice.delivery,
        secrets,
        cmd: [bin, "get", k],
      });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      assert.ok(viaEnv.stdout.includes(probeLine("get", k, v)));
      if (name === "static") {
        // What the fallback avoids: LD_PRELOAD is ignored, no secret arrives.
        const app = await launch({
          mode: "interposer",
          secrets,
          cmd: [bin, "get", k],
        });
        const r = await app.finish();
        assert.ok(r.stdout.includes(probeLine("get", k)), r.stdout);
      }
      assertNoLeak(secrets);
    },
  });
}

Deno.test("parseElf: real binaries, and truncated or hostile bytes give undefined", () => {
  const real = Deno.readFileSync(PROBE);
  const info = parseElf(bytesSource(real))!;
  assert.equal(info.bits, 64);
  assert.match(info.interp!, /ld-linux-x86-64\.so\.2$/);
  assert.equal(
    parseElf(bytesSource(Deno.readFileSync(STATIC)))!.interp,
    undefined,
  );
  for (const n of [0, 3, 20, 63, 64, 100]) {
    assert.equal(parseElf(bytesSource(real.slice(0, n))), undefined, `${n}`);
  }
  const hostile = real.slice(0, 4096);
  new DataView(hostile.buffer).setBigUint64(32, 0xffffffffffffff00n, true);
  assert.equal(parseElf(bytesSource(hostile)), undefined);
  const many = real.slice(0, 4096);
  new DataView(many.buffer).setUint16(56, 0xffff, true);
  assert.equal(parseElf(bytesSource(many)), undefined);
  // Random bytes with the magic: never throws.
  for (let i = 0; i < 200; i++) {
    const junk = crypto.getRandomValues(new Uint8Array(512));
    junk.set([0x7f, 0x45, 0x4c, 0x46, 2, 1], 0);
    parseElf(bytesSource(junk));
  }
});

Deno.test("parseShebang: interpreter and one argument, as Linux does", () => {
  const enc = new TextEncoder();
  assert.deepEqual(parseShebang(enc.encode("#!/bin/sh\n")), {
    interpreter: "/bin/sh",
  });
  assert.deepEqual(
    parseShebang(enc.encode("#! /usr/bin/env  python3 -u\r\n")),
    {
      interpreter: "/usr/bin/env",
      arg: "python3 -u",
    },
  );
  assert.equal(parseShebang(enc.encode("#!\n")), undefined);
  assert.equal(parseShebang(enc.encode("\x7fELF")), undefined);
});

const go = (() => {
  for (const p of ["/usr/local/go/bin/go", "/usr/bin/go"]) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
})();

Deno.test({
  name:
    "a cgo Go program is glibc-dynamic but reads os.Getenv from the initial stack: detected, falls back",
  ignore: go === undefined,
  async fn() {
    const dir = Deno.makeTempDirSync();
    try {
      Deno.writeTextFileSync(
        `${dir}/main.go`,
        `package main

// #include <stdlib.h>
import "C"
import (
	"fmt"
	"os"
	"unsafe"
)

func main() {
	k := C.CString(os.Args[1])
	defer C.free(unsafe.Pointer(k))
	fmt.Println("os.Getenv", len(os.Getenv(os.Args[1])), "C.getenv", C.getenv(k) != nil)
}
`,
      );
      const b = await new Deno.Command(go!, {
        args: ["build", "-o", `${dir}/app`, `${dir}/main.go`],
        env: { CGO_ENABLED: "1", GO111MODULE: "off", GOFLAGS: "" },
        signal: AbortSignal.timeout(180_000),
      }).output();
      assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
      const t = inspectTarget(`${dir}/app`);
      assert.equal(t.libc, "glibc");
      assert.equal(t.go, true);
      assert.equal(chooseDelivery("auto", t).delivery, "env");
      const secrets = makeSecrets("go");
      const [k] = Object.keys(secrets);
      const r = await run({
        mode: "interposer",
        secrets,
        cmd: [`${dir}/app`, k],
      });
      // The measurement behind the fallback: getenv sees it, os.Getenv not.
      assert.match(r.stdout, /os\.Getenv 0 C\.getenv true/);
      assertNoLeak(secrets);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});
