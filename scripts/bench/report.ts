/**
 * The benchmark's results as Markdown (docs/benchmarks.md) and as a
 * hand-written SVG bar chart of the start-up medians (docs/benchmarks.svg).
 * Pure: no I/O.
 */
import type { Contestant } from "./contestants.ts";
import { BASELINE_COMMIT } from "./baseline.ts";
import { formatGetenvTable, type GetenvBenchRow } from "./getenv.ts";
import { describeGoTool, type GoTool } from "./go_tools.ts";
import type { OpenBench } from "./open.ts";
import type { Profile } from "./profile.ts";
import { refreshRssFlat, type RefreshRssRow } from "./refresh_rss.ts";
import {
  overlapping,
  REAL_CHECK_HEAD,
  type RealCheck,
  realCheckRows,
  residentLine,
} from "./real_check.ts";
import type { StartupResult } from "./startup.ts";
import { fmt } from "./stats.ts";
import type { StormResult } from "./storm.ts";

/** Everything one bench run produced. */
export interface BenchResults {
  date: string;
  machine: {
    kernel: string;
    cpu: string;
    cores: number;
    memGb: number;
    deno: string;
    bao: string;
  };
  durationS: number;
  contestants: Contestant[];
  /** The Go contestants (re-creations, real binaries), built or not. */
  goTools: GoTool[];
  startup: StartupResult;
  /** Re-creations against the real binaries: this run's, or the last saved. */
  realCheck?: { check: RealCheck; thisRun: boolean };
  profile?: Profile;
  storm?: StormResult;
  getenv?: GetenvBenchRow[];
  open?: OpenBench;
  /** The resident supervisor's memory across refreshes (refresh_rss.ts). */
  refreshRss?: RefreshRssRow[];
  /** What was not measured, and why. */
  skipped: string[];
  notes: string[];
}

const setName = (count: number, paths: number) =>
  `${count} secret${count === 1 ? "" : "s"} / ${paths} path${
    paths === 1 ? "" : "s"
  }`;

function cell(r: BenchResults, id: string, count: number, paths: number) {
  return r.startup.cells.find((c) =>
    c.contestant === id && c.count === count && c.paths === paths
  );
}

function sets(r: BenchResults): Array<[number, number]> {
  const seen = new Map<string, [number, number]>();
  for (const c of r.startup.cells) {
    seen.set(`${c.count}/${c.paths}`, [c.count, c.paths]);
  }
  return [...seen.values()];
}

/** The target rows: [target, measured, verdict]. */
export function targets(r: BenchResults): string[][] {
  const rows: string[][] = [];
  for (const id of ["wrapper-env", "wrapper-interposer"]) {
    for (const [n, p] of sets(r).filter(([n]) => n === 10)) {
      const w = cell(r, id, n, p)?.medianMs;
      const floor = cell(r, "direct", n, p)?.medianMs;
      const over = w !== undefined && floor !== undefined ? w - floor : NaN;
      rows.push([
        `${id}: start-up overhead over the floor <= 40 ms (${setName(n, p)})`,
        `+${fmt(over)} ms (${fmt(w)} vs ${fmt(floor, 2)} ms)`,
        Number.isNaN(over) ? "NOT MEASURED" : over <= 40 ? "PASS" : "MISS",
      ]);
    }
    const ve = cell(r, "vault-env", 100, 10)?.medianMs;
    const w = cell(r, id, 100, 10)?.medianMs;
    rows.push([
      `${id}: not slower than vault-env (re-creation; 100 secrets / 10 paths)`,
      ve === undefined || Number.isNaN(ve)
        ? `${fmt(w)} ms; vault-env not measured`
        : `${fmt(w)} vs ${fmt(ve)} ms (x${fmt(w! / ve, 2)})`,
      ve === undefined || Number.isNaN(ve) || w === undefined
        ? "NOT MEASURED"
        : w <= ve
        ? "PASS"
        : "MISS",
    ]);
  }
  for (const id of ["wrapper-env", "wrapper-interposer"]) {
    const ve = cell(r, "vault-env", 10, 1)?.medianMs;
    const w = cell(r, id, 10, 1)?.medianMs;
    const ok = ve !== undefined && !Number.isNaN(ve) && w !== undefined &&
      !Number.isNaN(w);
    rows.push([
      `${id}: within 1.5x of vault-env (re-creation; 10 secrets / 1 path)`,
      ok ? `${fmt(w)} vs ${fmt(ve)} ms (x${fmt(w! / ve!, 2)})` : "n/a",
      !ok ? "NOT MEASURED" : w! <= 1.5 * ve! ? "PASS" : "MISS",
    ]);
    const cpu = cell(r, id, 10, 1)?.medianCpuMs;
    const base = cell(r, `${id}-base`, 10, 1)?.medianCpuMs;
    const both = cpu !== undefined && !Number.isNaN(cpu) &&
      base !== undefined && !Number.isNaN(base);
    rows.push([
      `${id}: CPU per start <= half of ${BASELINE_COMMIT}'s, same run ` +
      "(10 secrets / 1 path)",
      both
        ? `${fmt(cpu)} vs ${fmt(base)} ms (x${fmt(cpu! / base!, 2)})`
        : "n/a",
      !both ? "NOT MEASURED" : cpu! <= base! / 2 ? "PASS" : "MISS",
    ]);
  }
  const res = r.startup.resident.filter((x) =>
    x.contestant.startsWith("wrapper-")
  );
  const worst = Math.max(...res.map((x) => x.rssKb));
  rows.push([
    "resident parent (wrapper -> supervisor) <= 2 MB RSS",
    res.length ? `${worst} kB max (${res.length} cells)` : "n/a",
    !res.length || Number.isNaN(worst)
      ? "NOT MEASURED"
      : worst <= 2048
      ? "PASS"
      : "MISS",
  ]);
  const rr = r.refreshRss;
  rows.push([
    "supervisor RSS after 200 refreshes at or below after the first",
    rr?.length
      ? `${rr[1].rssKb} -> ${rr[rr.length - 1].rssKb} kB (${
        rr[0].rssKb
      } kB before any)`
      : "n/a",
    !rr?.length ? "NOT MEASURED" : refreshRssFlat(rr) ? "PASS" : "MISS",
  ]);
  if (r.getenv?.length) {
    const ratios = r.getenv.map((g) => g.interposerNs / g.glibcNs);
    const worstR = Math.max(...ratios);
    rows.push([
      "interposer getenv at or below glibc (every size, hit and miss)",
      `worst ratio ${fmt(worstR, 2)} (interposer / glibc)`,
      worstR <= 1 ? "PASS" : "MISS",
    ]);
  } else {
    rows.push(["interposer getenv at or below glibc", "n/a", "NOT MEASURED"]);
  }
  return rows;
}

function table(head: string[], rows: string[][], align?: string[]): string {
  const a = align ?? head.map((_, i) => (i === 0 ? "---" : "---:"));
  return [
    `| ${head.join(" | ")} |`,
    `|${a.join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

/** Start-up medians with ratio and overhead against the floor. */
export function startupTable(r: BenchResults): string {
  const ss = sets(r);
  const head = ["contestant", ...ss.map(([n, p]) => setName(n, p))];
  const rows = r.contestants.map((c) => [
    `${c.label} (\`${c.id}\`)`,
    ...ss.map(([n, p]) => {
      const x = cell(r, c.id, n, p);
      const floor = cell(r, "direct", n, p)?.medianMs ?? NaN;
      if (!x || Number.isNaN(x.medianMs)) return "failed";
      if (c.id === "direct") return `${fmt(x.medianMs, 2)} ms`;
      return `${fmt(x.medianMs)} ms (x${fmt(x.medianMs / floor, 0)}, +${
        fmt(x.medianMs - floor)
      })`;
    }),
  ]);
  return table(head, rows);
}

/** CPU time (user + sys) per start, medians. */
export function cpuTable(r: BenchResults): string {
  const ss = sets(r);
  const head = ["contestant", ...ss.map(([n, p]) => setName(n, p))];
  const rows = r.contestants.map((c) => [
    `\`${c.id}\``,
    ...ss.map(([n, p]) => {
      const x = cell(r, c.id, n, p);
      return x && !Number.isNaN(x.medianCpuMs)
        ? `${fmt(x.medianCpuMs)} ms`
        : "n/a";
    }),
  ]);
  return table(head, rows);
}

/** The wrapper against vault-env and envconsul of the same run: ratios of
 * the start-up medians and of the CPU medians. */
export function ratioTable(r: BenchResults): string {
  const ss = sets(r);
  const head = ["wrapper / tool", ...ss.map(([n, p]) => setName(n, p))];
  const rows: string[][] = [];
  for (const id of ["wrapper-env", "wrapper-interposer"]) {
    for (const tool of ["vault-env", "envconsul"]) {
      rows.push([
        `${id} / ${tool}`,
        ...ss.map(([n, p]) => {
          const w = cell(r, id, n, p);
          const t = cell(r, tool, n, p);
          if (!w || !t) return "n/a";
          return `x${fmt(w.medianMs / t.medianMs, 2)} (CPU x${
            fmt(w.medianCpuMs / t.medianCpuMs, 2)
          })`;
        }),
      ]);
    }
  }
  return table(head, rows);
}

/** Requests per start, from the audit log (and the wrapper's own count). */
export function requestsTable(r: BenchResults): string {
  const ss = sets(r);
  const head = ["contestant", "auth", ...ss.map(([n, p]) => setName(n, p))];
  const rows = r.contestants.filter((c) => c.id !== "direct").map((c) => [
    c.id,
    c.auth,
    ...ss.map(([n, p]) => {
      const x = cell(r, c.id, n, p);
      const a = x?.auditRequests;
      const l = x?.loggedRequests;
      return `${a ?? "n/a"}${l !== undefined ? ` (logged ${l})` : ""}`;
    }),
  ]);
  return table(head, rows, ["---", "---", ...ss.map(() => "---:")]);
}

/** The resident parent while the app runs. */
export function residentTable(r: BenchResults): string {
  const rows = r.startup.resident.map((x) => [
    x.contestant,
    setName(x.count, x.paths),
    x.name === null && !x.failures.length
      ? "none (exec'd into the app)"
      : x.name ?? "failed",
    x.name === null ? "-" : `${fmt(x.rssKb, 0)} kB`,
    x.name === null ? "-" : fmt(x.threads, 0),
  ]);
  return table(
    ["contestant", "secrets", "resident parent", "VmRSS", "threads"],
    rows,
    ["---", "---", "---", "---:", "---:"],
  );
}

function profileSection(p: Profile): string {
  const rows = p.phases.map((ph) => [
    ph.phase,
    ph.what,
    `${fmt(ph.ms)} ms`,
    `${fmt((ph.ms / p.totalMs) * 100, 0)} %`,
    ph.cpuMs === undefined ? "(above)" : `${fmt(ph.cpuMs)} ms`,
  ]);
  const sum = p.phases.reduce((a, ph) => a + ph.ms, 0);
  rows.push([
    "**total**",
    `sum of the medians ${fmt(sum)} ms`,
    `**${fmt(p.totalMs)} ms**`,
    "100 %",
    `**${fmt(p.totalCpuMs)} ms**`,
  ]);
  return [
    table(["phase", "what", "median", "share", "CPU"], rows, [
      "---",
      "---",
      "---:",
      "---:",
      "---:",
    ]),
    "",
    "CPU: user + system time of the whole process (`Deno.cpuUsage()` at " +
    "each stamp, every thread: Deno's own background threads count in " +
    "whichever phase they overlap), medians of the same " +
    "runs; the last row's CPU is the launcher's getrusage over the whole " +
    "start. docs/startup-profile.md says where each phase's CPU goes.",
    "",
    `TLS probe in a fresh Deno process, through the wrapper's transport ` +
    `(OpenSSL in the shim) ` +
    `(median of ${p.runs}): first mTLS ` +
    `request (TCP + handshake + \`sys/health\`) ${fmt(p.tls.firstMs)} ms, ` +
    `second on the same connection ${fmt(p.tls.secondMs)} ms, cert login ` +
    `on the warm connection ${fmt(p.tls.loginWarmMs)} ms, a KV read ` +
    `${fmt(p.tls.readWarmMs)} ms. curl against the same server: TCP ` +
    `connect ${fmt(p.curl.connectMs)} ms, TLS handshake ${
      fmt(p.curl.tlsMs)
    } ms, whole request ${fmt(p.curl.totalMs)} ms.`,
  ].join("\n");
}

/** What the vault-env and envconsul rows are, and the check against the
 * real binaries. */
export function goSection(r: BenchResults): string[] {
  const out = [
    "## vault-env and envconsul: library re-creations",
    "",
    "The Go module proxy refuses the modules github.com/bank-vaults/vault-env " +
    "and github.com/hashicorp/envconsul (403 for every version), so " +
    "`go install` cannot build them on a fresh machine. The rows " +
    "`vault-env` and `envconsul` are therefore **library re-creations, not " +
    "the real tools**: small programs in scripts/bench/go/, pinned by their " +
    "go.mod and go.sum to the library versions the tools' own go.mod pins, " +
    'built with `go build` (CGO_ENABLED=0, `-ldflags "-s -w"`, as the ' +
    "tools' releases) into the bench cache. Each calls the library code " +
    "path that the tool's main calls, with the configuration the bench " +
    "gives the tool (scripts/bench/contestants.ts):",
    "",
    ...r.goTools.map((t) =>
      `- ${t.path ? describeGoTool(t) : `${t.id}: not measured (${t.skipped})`}`
    ),
    "",
  ];
  const rc = r.realCheck;
  if (!rc) {
    out.push(
      "Not yet checked against the real binaries: give their paths in " +
        "CLOUDTASER_BENCH_VAULT_ENV and CLOUDTASER_BENCH_ENVCONSUL.",
      "",
    );
    return out;
  }
  const c = rc.check;
  const [same, cells] = overlapping(c);
  const runs = Math.min(...c.rows.map((x) => x.runs));
  out.push(
    rc.thisRun
      ? "### Checked against the real binaries in this run"
      : `### Last checked against the real binaries: ${c.date}`,
    "",
    (rc.thisRun
      ? "The real binaries ran in this run as the `-real` contestants, " +
        "interleaved with the re-creations (same OpenBao, same secrets, same " +
        "configuration)."
      : `Not in this run (no real binaries given); from the run of ${c.date} ` +
        `on ${c.machine}, kept in scripts/bench/go/real_check.json.`) +
      ` Start-up medians with the 25th-75th percentiles, ${runs} or more ` +
      `runs each; the two ranges overlap in ${same} of ${cells} cells.`,
    "",
    table(REAL_CHECK_HEAD, realCheckRows(c), [
      "---",
      "---",
      "---:",
      "---:",
      "---:",
      "---:",
    ]),
    "",
    `Resident parent while the app runs: ${residentLine(c)}.`,
    "",
  );
  if (!rc.thisRun) {
    out.push(
      "Real binaries compared:",
      "",
      ...c.binaries.map((b) => `- ${b}`),
      "",
    );
  }
  return out;
}

/** The whole Markdown report. */
export function markdown(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [
    "# Benchmarks",
    "",
    "Generated by `deno task bench` (scripts/bench.ts); do not edit by hand.",
    "",
    `- date: ${r.date}; the run took ${fmt(r.durationS, 0)} s`,
    `- kernel: ${m.kernel}; CPU: ${m.cpu}, ${m.cores} cores; ${
      fmt(m.memGb, 0)
    } GB RAM`,
    `- Deno ${m.deno}; OpenBao ${m.bao} (TLS listener on loopback, ` +
    "in-memory storage, KV v2)",
    "- start-up: from the launcher's stamp just before `fork` to the app's " +
    "first instruction in `main` (both `CLOCK_REALTIME`); the app is a tiny " +
    "dynamically linked C program that counts the secrets it sees " +
    "(a run counts only when it saw all of them). Medians; `xN` is the ratio " +
    "to the floor, `+N` the overhead over it in ms.",
    "",
    "## Targets",
    "",
    table(["target", "measured", "verdict"], targets(r), [
      "---",
      "---",
      "---",
    ]),
    "",
    "## Start-up",
    "",
    startupTable(r),
    "",
    "![start-up medians](benchmarks.svg)",
    "",
    "## CPU per start",
    "",
    "User + system CPU time of every process a start created (the " +
    "launcher's `getrusage(RUSAGE_CHILDREN)` after it reaped the command): " +
    "the whole start up to the app's first instruction, plus the app's own " +
    "tiny run and the exits after it, which the `direct` row measures alone. " +
    "Medians of the same runs as the start-up table.",
    "",
    cpuTable(r),
    "",
    "The wrapper against the tools, same run: ratio of the start-up medians " +
    "(and of the CPU medians).",
    "",
    ratioTable(r),
    "",
    ...goSection(r),
    "## Requests sent to OpenBao per start",
    "",
    "Request entries in OpenBao's file audit log for one start (the wrapper's " +
    "own count from its `secrets fetched` line in brackets).",
    "",
    requestsTable(r),
    "",
    "## Resident parent while the app runs",
    "",
    residentTable(r),
    "",
  ];
  if (r.storm) {
    const s = r.storm;
    out.push(
      "## Many wrappers at once",
      "",
      `${s.wrappers} wrappers (env delivery, ${s.set} secrets/paths) ` +
        "released at the same instant against one OpenBao; a wrapper that " +
        `has not started its app within ${s.deadlineMs / 1000} s counts ` +
        "as failed.",
      "",
      table(
        ["started", "success rate", "p50", "p99", "max", "requests/start"],
        [[
          `${s.ok}/${s.wrappers}`,
          `${fmt((s.ok / s.wrappers) * 100)} %`,
          `${fmt(s.p50Ms, 0)} ms`,
          `${fmt(s.p99Ms, 0)} ms`,
          `${fmt(s.maxMs, 0)} ms`,
          fmt(s.requestsPerStart, 0),
        ]],
        ["---:", "---:", "---:", "---:", "---:", "---:"],
      ),
      "",
      Object.keys(s.failures).length
        ? "Failures: " +
          Object.entries(s.failures).map(([k, v]) => `${v}x ${k}`).join("; ")
        : "No failures.",
      "",
    );
  }
  if (r.profile) {
    out.push(
      `## Where the wrapper's start-up goes (${r.profile.set} secrets/paths)`,
      "",
      "The wrapper's own `main()` run by scripts/bench/profile_child.ts, " +
        "which stamps before and after loading it and times every request " +
        "(the shim's HttpClient.exchange); " +
        `medians of ${r.profile.runs} runs (env delivery).`,
      "",
      profileSection(r.profile),
      "",
    );
  }
  if (r.getenv) {
    out.push(
      "## getenv through the interposer",
      "",
      "Nanoseconds per call (scripts/bench/getenv.ts): the interposer and " +
        "glibc's own `getenv` on the same `environ`, alternated run by run; " +
        "`glibc alone` is a process without the interposer.",
      "",
      formatGetenvTable(r.getenv),
      "",
    );
  }
  if (r.open) {
    const o = r.open;
    out.push(
      "## The enforcer's cost per open()",
      "",
      `scripts/bench/open.ts, enforcer tier \`${o.tier}\`; ns per call ` +
        "(bpf: a `BPF_PROG_GET_NEXT_ID` that finds nothing; perf: " +
        "`perf_event_open` + `close` of a software counter, refused to a " +
        "protected process).",
      "",
      table(
        ["process", "open + close", "getppid", "bpf", "perf"],
        [
          ["no enforcer", o.without],
          ["enforcer running, unprotected process", o.withEnforcer],
          ["enforcer running, protected process", o.protectedProcess],
        ].map(([name, c]) => {
          const x = c as OpenBench["without"];
          return [
            name as string,
            fmt(x.openCloseNs),
            fmt(x.getppidNs),
            fmt(x.bpfNs),
            x.perfNs === null ? "refused" : fmt(x.perfNs),
          ];
        }),
      ),
      "",
      `Overhead for every process on the node: +${o.overheadNs} ns per ` +
        `open()+close() (+${o.overheadPct} %).`,
      "",
    );
  }
  out.push("## Skipped, and why", "");
  out.push(
    ...(r.skipped.length ? r.skipped.map((s) => `- ${s}`) : ["- nothing"]),
  );
  out.push("", "## Notes", "", ...r.notes.map((n) => `- ${n}`), "");
  return out.join("\n");
}

const COLORS: Record<string, string> = {
  direct: "#7f8c8d",
  shell: "#e67e22",
  "wrapper-env": "#2471a3",
  "wrapper-interposer": "#5dade2",
  "wrapper-env-cold": "#1b4f72",
  "wrapper-env-pod": "#154360",
  "vault-env": "#27ae60",
  "vault-env-real": "#82e0aa",
  envconsul: "#8e44ad",
  "envconsul-real": "#c39bd3",
};

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** A grouped bar chart of the start-up medians, one group per secret set. */
export function svgChart(r: BenchResults): string {
  const ss = sets(r);
  const ids = r.contestants.map((c) => c.id);
  const bar = 22, gap = 4, groupGap = 36, left = 60, top = 40, h = 300;
  const groupW = ids.length * (bar + gap) - gap;
  const width = left + ss.length * (groupW + groupGap) + 20;
  const height = top + h + 60 + 20 * Math.ceil(ids.length / 3);
  const max = Math.max(
    1,
    ...r.startup.cells.map((c) => (Number.isNaN(c.medianMs) ? 0 : c.medianMs)),
  );
  const step = [10, 20, 50, 100, 200, 500, 1000].find((s) => max / s <= 8) ??
    2000;
  const yMax = Math.ceil(max / step) * step;
  const y = (v: number) => top + h - (v / yMax) * h;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">` +
    `Start-up to the app's first instruction, median ms (${
      esc(r.date)
    })</text>`,
  ];
  for (let v = 0; v <= yMax; v += step) {
    parts.push(
      `<line x1="${left}" x2="${width - 10}" y1="${y(v)}" y2="${y(v)}" ` +
        `stroke="#ddd"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  ss.forEach(([n, p], gi) => {
    const gx = left + 10 + gi * (groupW + groupGap);
    ids.forEach((id, i) => {
      const m = cell(r, id, n, p)?.medianMs ?? NaN;
      const x = gx + i * (bar + gap);
      if (Number.isNaN(m)) {
        parts.push(
          `<text x="${x + bar / 2}" y="${y(0) - 4}" ` +
            `text-anchor="middle" fill="#c0392b">x</text>`,
        );
        return;
      }
      const yy = y(m);
      parts.push(
        `<rect x="${x}" y="${yy}" width="${bar}" height="${y(0) - yy}" ` +
          `fill="${COLORS[id] ?? "#999"}"><title>${esc(id)}: ${
            fmt(m, 2)
          } ms</title></rect>`,
        `<text x="${x + bar / 2}" y="${yy - 3}" text-anchor="middle" ` +
          `font-size="9">${m < 10 ? fmt(m, 1) : fmt(m, 0)}</text>`,
      );
    });
    parts.push(
      `<text x="${gx + groupW / 2}" y="${top + h + 18}" ` +
        `text-anchor="middle">${esc(setName(n, p))}</text>`,
    );
  });
  r.contestants.forEach((c, i) => {
    const lx = left + (i % 3) * 260;
    const ly = top + h + 42 + Math.floor(i / 3) * 20;
    parts.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" ` +
        `fill="${COLORS[c.id] ?? "#999"}"/>`,
      `<text x="${lx + 18}" y="${ly}">${esc(c.label)}</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.join("\n");
}
