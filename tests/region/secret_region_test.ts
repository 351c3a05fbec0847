/**
 * SecretRegion on the real kernel. Protections are proven from another
 * process: the test runner attacks a holder process (tests/support/fixtures/).
 */
import assert from "node:assert/strict";
import { SecretRegion } from "../../src/region/mod.ts";
import {
  Holder,
  HolderFailed,
  marker,
  readProcMem,
  runHolder,
} from "../support/holder.ts";
import { unprivilegedTree } from "../support/unprivileged.ts";
import { fdTargets } from "../support/proc.ts";

const enc = new TextEncoder();

/** The holder's fds that point at a region file, read from outside. */
function regionFds(pid: number): string[] {
  return [...fdTargets(pid).values()].filter((t) =>
    /secretmem|memfd:cloudtaser/.test(t)
  );
}
const dec = new TextDecoder();

Deno.test("root reading /proc/<pid>/mem at the region gets EIO (memfd_secret)", async () => {
  const secret = marker("mem");
  const h = await Holder.start(secret);
  try {
    assert.equal(h.info.backing, "memfd_secret");
    assert.match(h.info.path, /secretmem/);
    assert.equal(readProcMem(h.info.pid, h.valueAddress, secret.length), "EIO");
    // Its fd was closed once mapped: nothing for pidfd_getfd to steal.
    assert.deepEqual(regionFds(h.info.pid), []);
    // Control: the same reader reads an ordinary mapping of the holder, so
    // EIO is the region's doing, not a broken reader.
    const maps = Deno.readTextFileSync(`/proc/${h.info.pid}/maps`);
    const stack = maps.split("\n").find((l) => l.endsWith("[stack]"))!;
    const start = BigInt("0x" + stack.split("-")[0]);
    const got = readProcMem(h.info.pid, start, 16);
    assert.ok(
      got instanceof Uint8Array && got.length === 16,
      `control read gave ${got}`,
    );
  } finally {
    const r = await h.finish();
    assert.deepEqual(JSON.parse(r.stdout.trim()), { canaryIntact: true });
  }
});

Deno.test("without memfd_secret (seccomp ENOSYS) the fallback is locked and no-dump, and readable by root", async () => {
  const secret = marker("fallback");
  const h = await Holder.start(secret, { noMemfdSecret: true });
  try {
    assert.equal(h.info.backing, "memfd_mlock");
    assert.equal(h.info.locked, true);
    assert.match(h.info.path, /memfd:cloudtaser-secrets/);
    assert.deepEqual(regionFds(h.info.pid), []);
    // Read the holder's smaps ourselves rather than trusting its report.
    const smaps = Deno.readTextFileSync(`/proc/${h.info.pid}/smaps`);
    const start = BigInt(h.info.address).toString(16);
    const block = smaps.slice(smaps.indexOf(start + "-"));
    const flags = /VmFlags:([^\n]*)/.exec(block)![1].trim().split(/\s+/);
    assert.ok(flags.includes("lo"), `VmFlags ${flags}`);
    assert.ok(flags.includes("dd"), `VmFlags ${flags}`);
    // This is why memfd_secret matters: here root can read the secret.
    const got = readProcMem(h.info.pid, h.valueAddress, secret.length);
    assert.ok(got instanceof Uint8Array);
    assert.equal(dec.decode(got), secret);
  } finally {
    await h.finish();
  }
});

Deno.test("CLOUDTASER_REQUIRE_MEMFD_SECRET=true refuses to start without memfd_secret", async () => {
  const r = await runHolder(marker("strict"), {
    noMemfdSecret: true,
    env: { CLOUDTASER_REQUIRE_MEMFD_SECRET: "true" },
  });
  assert.equal(r.status.code, 3);
  assert.match(
    r.stderr,
    /CLOUDTASER_REQUIRE_MEMFD_SECRET=true but memfd_secret failed: ENOSYS: the kernel needs CONFIG_SECRETMEM/,
  );
});

Deno.test("mlock failing (non-root, RLIMIT_MEMLOCK 0) warns, and refuses in strict mode", async () => {
  const secret = marker("mlock");
  const h = await Holder.start(secret, {
    noMemfdSecret: true,
    user: "nobody",
    memlock: 0,
  });
  const r = await h.finish();
  assert.equal(h.info.locked, false);
  assert.ok(!h.info.flags.includes("lo"));
  assert.match(
    r.stderr,
    /warning: mlock failed: (ENOMEM|EPERM|EAGAIN): .*CAP_IPC_LOCK/,
  );

  const strict = await runHolder(secret, {
    noMemfdSecret: true,
    user: "nobody",
    memlock: 0,
    env: { CLOUDTASER_REQUIRE_MLOCK: "true" },
  });
  assert.equal(strict.status.code, 3);
  assert.match(
    strict.stderr,
    /CLOUDTASER_REQUIRE_MLOCK=true but mlock failed: \w+: .*CAP_IPC_LOCK/,
  );
  assert.ok(!strict.stderr.includes(secret) && !r.stderr.includes(secret));
});

Deno.test("PROT_NONE guard pages on both sides: one byte past either end faults with SIGSEGV", async () => {
  // Seen from outside: the neighbours of the region are PROT_NONE.
  const h = await Holder.start(marker("guards"));
  try {
    const maps = Deno.readTextFileSync(`/proc/${h.info.pid}/maps`).trim().split(
      "\n",
    );
    const start = BigInt(h.info.address);
    const i = maps.findIndex((l) => BigInt("0x" + l.split("-")[0]) === start);
    assert.ok(i > 0, "region not found in maps");
    const [before, region, after] = [maps[i - 1], maps[i], maps[i + 1]];
    const range = (l: string) =>
      l.split(" ")[0].split("-").map((x) => BigInt("0x" + x));
    assert.equal(range(before)[1], range(region)[0]);
    assert.equal(range(after)[0], range(region)[1]);
    assert.match(before.split(" ")[1], /^---p$/);
    assert.match(after.split(" ")[1], /^---p$/);
  } finally {
    await h.finish();
  }
  for (const mode of ["overflow", "underflow"] as const) {
    const r = await runHolder(marker(mode), { mode });
    assert.equal(
      r.status.signal,
      "SIGSEGV",
      `${mode}: ${JSON.stringify(r.status)}: ${r.stderr}`,
    );
    assert.ok(!r.stdout.includes("survived"));
  }
});

Deno.test("a corrupted canary is reported when the region is wiped", async () => {
  const r = await runHolder(marker("canary"), { mode: "canary" });
  assert.equal(r.status.code, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").at(-1)!), {
    canaryIntact: false,
  });
});

Deno.test("with dumpable off, a same-uid unprivileged process cannot open environ or mem", async () => {
  const tryOpen = async (pid: number) => {
    const script = `for (const f of ["environ", "mem"]) {
      try { Deno.openSync("/proc/${pid}/" + f).close(); console.log(f + ":opened"); }
      catch (e) { console.log(f + ":" + (e.code ?? e.name)); } }`;
    const out = await new Deno.Command("setpriv", {
      args: [
        "--reuid=nobody",
        "--regid=nogroup",
        "--clear-groups",
        "--",
        Deno.execPath(),
        "eval",
        script,
      ],
      env: { DENO_DIR: (await unprivilegedTree()).denoDir },
    }).output();
    return dec.decode(out.stdout).trim().split("\n");
  };
  const hardened = await Holder.start(marker("dumpable"), { user: "nobody" });
  try {
    assert.deepEqual(await tryOpen(hardened.info.pid), [
      "environ:EACCES",
      "mem:EACCES",
    ]);
  } finally {
    await hardened.finish();
  }
  // Control: the same attacker opens both when dumpable stays on.
  const soft = await Holder.start(marker("dumpable"), {
    user: "nobody",
    harden: false,
  });
  try {
    assert.deepEqual(await tryOpen(soft.info.pid), [
      "environ:opened",
      "mem:opened",
    ]);
  } finally {
    await soft.finish();
  }
});

/** Runs fn with core_pattern pointed at a fresh directory, restored after. */
async function withCoreDir(fn: (dir: string) => Promise<void>) {
  const pattern = "/proc/sys/kernel/core_pattern";
  const saved = Deno.readTextFileSync(pattern);
  const dir = Deno.makeTempDirSync({ prefix: "ct-core-" });
  Deno.chmodSync(dir, 0o1777);
  Deno.writeTextFileSync(pattern, `${dir}/core.%p`);
  try {
    await fn(dir);
  } finally {
    Deno.writeTextFileSync(pattern, saved.trimEnd());
    Deno.removeSync(dir, { recursive: true });
  }
}

function coresIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)].map((e) => `${dir}/${e.name}`);
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

Deno.test("a crashing holder leaves no core: RLIMIT_CORE 1 and not-dumpable each prevent it alone", async () => {
  await withCoreDir(async (dir) => {
    const h = await Holder.start(marker("core"));
    const limits = Deno.readTextFileSync(`/proc/${h.info.pid}/limits`);
    await h.finish();
    assert.match(limits, /Max core file size\s+1\s+1\s/);
    // The crash starts under an unlimited core limit each time; the control
    // below (no hardening) shows a core is written then.
    for (const only of [undefined, "dumpable", "core-limit"] as const) {
      const r = await runHolder(marker("core"), {
        mode: "crash",
        core: "unlimited",
        only,
      });
      assert.equal(r.status.signal, "SIGABRT", `${only}: ${r.stderr}`);
      assert.deepEqual(
        coresIn(dir),
        [],
        `hardening ${only ?? "both"} left a core`,
      );
    }
  });
});

Deno.test("with dumps forced on, the core of the fallback region lacks the secret (MADV_DONTDUMP)", async () => {
  await withCoreDir(async (dir) => {
    const secret = marker("core");
    // Dumps allowed, the fallback region (no memfd_secret, so only
    // MADV_DONTDUMP keeps it out of the core).
    const r = await runHolder(secret, {
      mode: "crash",
      core: "unlimited",
      harden: false,
      noMemfdSecret: true,
    });
    assert.equal(r.status.signal, "SIGABRT", r.stderr);
    const cores = coresIn(dir);
    assert.equal(
      cores.length,
      1,
      "a core file was expected once dumps are allowed",
    );
    const core = Deno.readFileSync(cores[0]);
    assert.ok(core.length > 1 << 20, `core is ${core.length} bytes`);
    assert.ok(!contains(core, enc.encode(secret)), "secret found in core dump");
  });
});

Deno.test("10,000 keys and 1 MiB values fit, and every value reads back", () => {
  const region = SecretRegion.create();
  try {
    const big = new Uint8Array(1 << 20).map((_, i) => (i * 7) % 255 + 1);
    region.append("BIG", big);
    for (let i = 0; i < 10_000; i++) {
      region.append(`K${i}`, enc.encode(`v${i}`));
    }
    assert.equal(region.count, 10_001);
    assert.deepEqual(region.value("BIG"), big);
    assert.equal(dec.decode(region.value("K9999")), "v9999");
    assert.equal(region.backing, "memfd_secret");
  } finally {
    assert.deepEqual(region.wipe(), { canaryIntact: true });
  }
});

Deno.test("records are KEY=VALUE\\0 after the header; bad keys, NUL values and duplicates are refused", () => {
  const region = SecretRegion.create();
  try {
    region.append("A", enc.encode("1"));
    region.append("B", enc.encode("22"));
    assert.throws(
      () => region.append("A", enc.encode("x")),
      /duplicate secret key A/,
    );
    assert.throws(
      () => region.append("C=D", enc.encode("x")),
      /invalid secret key/,
    );
    assert.throws(
      () => region.append("N", new Uint8Array([1, 0, 2])),
      /secret N contains a NUL byte/,
    );
    assert.deepEqual(region.keys(), ["A", "B"]);
  } finally {
    region.wipe();
  }
});

Deno.test("the holder's stderr never carries the secret", async () => {
  const secret = marker("logs");
  const h = await Holder.start(secret, { noMemfdSecret: true });
  const r = await h.finish();
  assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret));
  await assert.rejects(
    () =>
      Holder.start(secret, {
        noMemfdSecret: true,
        env: { CLOUDTASER_REQUIRE_MEMFD_SECRET: "true" },
      }),
    (e: unknown) => e instanceof HolderFailed && !e.stderr.includes(secret),
  );
});
