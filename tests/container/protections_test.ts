/**
 * Which protections survive a real container's settings: for each
 * configuration the glibc app runs under the installed wrapper
 * (`CLOUDTASER_DELIVERY=auto`, so interposer delivery), and alone, so that
 * the app itself probes what the container allows an unprivileged process
 * (memfd_secret + mmap, mlock of one page). Each configuration's row must
 * equal the README's table (Kubernetes section), which is generated from
 * this test's output: when a row differs, the message prints the measured
 * table.
 */
import assert from "node:assert/strict";
import { wrapperImageKind } from "../support/images.ts";
import type { RunOptions } from "../support/podman.ts";
import {
  Fixture,
  HARDENED,
  parseApp,
  WRAPPER,
  wrapperLog,
} from "../support/container.ts";

const README = new URL("../../README.md", import.meta.url).pathname;
const BEGIN =
  "<!-- container-protections: begin (tests/container/protections_test.ts) -->";
const END = "<!-- container-protections: end -->";
const IMAGE = wrapperImageKind();

/** The node's checks, not the container's: the README's scores lack them. */
const NODE_CHECKS = [
  "ebpf_agent_connected",
  "ebpf_enforce_mode",
  "ebpf_lsm",
  "cpu_mitigations",
  "confidential_vm",
];

const MEMLOCK_64K = "memlock=65536:65536";
const MEMLOCK_32K = "memlock=32768:32768";
const IPC_LOCK = { capAdd: ["IPC_LOCK"] };

/** The configurations, in the README's order. */
const CONFIGS: Array<
  { name: string; opts: (f: Fixture) => Partial<RunOptions> }
> = [
  {
    name: "podman's defaults: uid 0, default capabilities, writable root",
    opts: () => ({}),
  },
  { name: "restricted", opts: () => HARDENED },
  {
    name: "restricted + `IPC_LOCK`",
    opts: () => ({ ...HARDENED, ...IPC_LOCK }),
  },
  {
    name: "restricted, seccomp `Unconfined`",
    opts: () => ({ ...HARDENED, seccompProfile: "unconfined" }),
  },
  {
    name: "restricted, a seccomp profile without `memfd_secret`",
    opts: (f) => ({ ...HARDENED, seccompProfile: noMemfdSecretProfile(f) }),
  },
  {
    name: "restricted, `RLIMIT_MEMLOCK` 112 KiB",
    opts: () => ({ ...HARDENED, ulimits: ["memlock=114688:114688"] }),
  },
  {
    name: "restricted, `RLIMIT_MEMLOCK` 64 KiB",
    opts: () => ({ ...HARDENED, ulimits: [MEMLOCK_64K] }),
  },
  {
    name: "restricted, `RLIMIT_MEMLOCK` 32 KiB",
    opts: () => ({ ...HARDENED, ulimits: [MEMLOCK_32K] }),
  },
  {
    name: "restricted + `IPC_LOCK`, `RLIMIT_MEMLOCK` 32 KiB",
    opts: () => ({ ...HARDENED, ...IPC_LOCK, ulimits: [MEMLOCK_32K] }),
  },
];

let opened: Promise<Fixture> | undefined;
const fixture = () => opened ??= Fixture.open(["glibc"]);
const shared = { sanitizeOps: false, sanitizeResources: false };
const measured = new Map<string, string>();
let nodePoints: Map<string, number> | undefined;

/**
 * podman's default seccomp profile (containers-common) less memfd_secret,
 * as the defaults of runtimes that predate the call: it then fails ENOSYS.
 */
function noMemfdSecretProfile(f: Fixture): string {
  const path = `${f.podman.dir}/seccomp-no-memfd-secret.json`;
  const profile = JSON.parse(
    Deno.readTextFileSync("/usr/share/containers/seccomp.json"),
  );
  let removed = 0;
  for (const s of profile.syscalls) {
    const before = s.names.length;
    s.names = s.names.filter((n: string) => n !== "memfd_secret");
    removed += before - s.names.length;
  }
  assert.ok(removed > 0, "podman's default profile lists memfd_secret");
  Deno.writeTextFileSync(path, JSON.stringify(profile));
  return path;
}

/** The points of each node check (score --json in a container). */
async function nodeCheckPoints(f: Fixture): Promise<Map<string, number>> {
  if (nodePoints) return nodePoints;
  const r = await f.podman.runToEnd({
    image: f.apps.get("glibc")!,
    entrypoint: [WRAPPER],
    command: ["score", "--json"],
    mounts: [{ source: f.volume, target: "/cloudtaser", readOnly: true }],
  });
  assert.equal(r.code, 0, r.stderr);
  const score = JSON.parse(r.stdout) as {
    checks: Array<{ name: string; max: number }>;
  };
  nodePoints = new Map(
    score.checks.filter((c) => NODE_CHECKS.includes(c.name))
      .map((c) => [c.name, c.max]),
  );
  assert.equal(nodePoints.size, NODE_CHECKS.length);
  return nodePoints;
}

/** Runs the configuration twice (wrapper + app, app alone); one table row. */
async function measure(
  f: Fixture,
  name: string,
  opts: Partial<RunOptions>,
): Promise<string> {
  const bare = await f.startBareApp("glibc", opts);
  let probe;
  try {
    await bare.waitForLog(/^app ready$/m, 30_000);
    probe = parseApp((await f.logs(bare)).stdout);
  } finally {
    await bare.remove();
  }
  const memfd = probe.memfdSecret === "ok"
    ? (probe.memfdSecretMmap === "ok"
      ? "ok"
      : `ok, mmap ${probe.memfdSecretMmap}`)
    : probe.memfdSecret;

  const memlock = kib(probe.memlock.split(":")[0]);

  const c = await f.startApp("glibc", opts, { CLOUDTASER_DELIVERY: "auto" });
  try {
    // Either the app reports, or the start fails and the container stops.
    const ready = await c.waitForLog(/^app ready$/m, 60_000).then(
      () => true,
      async (e) => {
        if (await c.running()) throw e;
        return false;
      },
    );
    const { stdout, stderr } = await f.logs(c);
    const log = wrapperLog(stderr);
    if (!ready) {
      const error = log.findLast((l) => l.level === "error")?.message ?? "?";
      return `| ${name} | does not start: \`${error}\` | | ${memlock} | ${memfd} | ` +
        `${probe.mlock} | |`;
    }
    const app = parseApp(stdout);
    const line = log.find((l) =>
      String(l.message).startsWith("protection score")
    );
    assert.ok(line, `a score line in:\n${stderr}`);
    const missing = line.missing as string[];
    const points = await nodeCheckPoints(f);
    // The README's scores are for a node that passes none of its checks.
    let score = line.score as number;
    for (const [check, max] of points) {
      if (!missing.includes(check)) score -= max;
    }
    const own = missing.filter((m) => !NODE_CHECKS.includes(m));
    return `| ${name} | ${score} | ${
      own.join(", ") || "none"
    } | ${memlock} | ` +
      `${memfd} | ${probe.mlock} | ${interposer(app.interposer, stderr)} |`;
  } finally {
    await c.remove();
  }
}

/**
 * Whether the interposer was mapped in the app, and whether it could copy
 * the region into its own memfd_secret (it warns when it cannot: programs
 * that write into environment strings then fault).
 */
function interposer(loaded: boolean, stderr: string): string {
  if (!loaded) return "no";
  const warn = stderr.split("\n").find((l) =>
    l.includes('"cloudtaser-interposer"') && l.includes("cannot copy")
  );
  return warn ? "yes, but its copy failed" : "yes";
}

/** A limit in bytes as the README writes it. */
function kib(bytes: string): string {
  const n = Number(bytes);
  if (n < 0 || !Number.isFinite(n)) return "unlimited";
  return n >= 1 << 20 && n % (1 << 20) === 0
    ? `${n / (1 << 20)} MiB`
    : `${n / 1024} KiB`;
}

/** A table row's cells, trimmed (deno fmt pads them). */
function cells(row: string): string[] {
  return row.trim().replace(/^\||\|$/g, "").split("|").map((c) => c.trim());
}

/** The README's rows, by configuration name. */
function readmeRows(): Map<string, string[]> {
  const text = Deno.readTextFileSync(README);
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  assert.ok(start >= 0 && end > start, `README.md lacks ${BEGIN} ... ${END}`);
  const rows = new Map<string, string[]>();
  const lines = text.slice(start, end).split("\n")
    .filter((l) => l.startsWith("|"));
  // The header and the separator first, then one row per configuration.
  for (const l of lines.slice(2)) rows.set(cells(l)[0], cells(l));
  return rows;
}

Deno.test("the README's container table lists exactly these configurations", () => {
  assert.deepEqual([...readmeRows().keys()], CONFIGS.map((c) => c.name));
});

for (const { name, opts } of CONFIGS) {
  Deno.test({
    name: `container protections, ${name}: the README's row is what is ` +
      `measured (glibc app; wrapper image: ${IMAGE.kind})`,
    ...shared,
    async fn() {
      const f = await fixture();
      const row = await measure(f, name, opts(f));
      measured.set(name, row);
      console.log(row);
      assert.deepEqual(readmeRows().get(name), cells(row));
    },
  });
}

Deno.test({
  name:
    "container protections: the measured table, and no test secret in any output",
  ...shared,
  async fn() {
    const f = await fixture();
    try {
      console.log([...measured.values()].join("\n"));
      f.assertNoSecretInOutput();
    } finally {
      await f.close();
    }
  },
});
