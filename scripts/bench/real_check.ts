/**
 * The check that the Go re-creations (scripts/bench/go/) start like the real
 * vault-env and envconsul: both measured in the same run, interleaved, when
 * real binaries are given (CLOUDTASER_BENCH_VAULT_ENV,
 * CLOUDTASER_BENCH_ENVCONSUL). The last such check is kept in
 * scripts/bench/go/real_check.json, so a run without the real binaries (a
 * fresh machine) still reports it, with its date.
 */
import { describeGoTool, type GoTool, type ToolName } from "./go_tools.ts";
import type { StartupResult } from "./startup.ts";
import { fmt, percentile } from "./stats.ts";

const FILE = new URL("./go/real_check.json", import.meta.url).pathname;

/** One secret set, re-creation against the real binary. */
export interface RealCheckRow {
  tool: ToolName;
  count: number;
  paths: number;
  runs: number;
  recreation: { medianMs: number; p25Ms: number; p75Ms: number };
  real: { medianMs: number; p25Ms: number; p75Ms: number };
  /** Requests per start in OpenBao's audit log. */
  requests: { recreation?: number; real?: number };
}

/** A whole check. */
export interface RealCheck {
  date: string;
  machine: string;
  /** describeGoTool() of each real binary compared. */
  binaries: string[];
  rows: RealCheckRow[];
  /** The resident parent while the app runs, per contestant id. */
  resident: Record<string, string>;
}

function spread(xs: number[]) {
  return {
    medianMs: percentile(xs, 50),
    p25Ms: percentile(xs, 25),
    p75Ms: percentile(xs, 75),
  };
}

/**
 * The check made by this run, or undefined when no real binary ran.
 *
 * @example
 * ```ts
 * const check = realCheck(startup, tools, date, "AMD EPYC, 2 cores");
 * ```
 */
export function realCheck(
  startup: StartupResult,
  tools: GoTool[],
  date: string,
  machine: string,
): RealCheck | undefined {
  const rows: RealCheckRow[] = [];
  const binaries: string[] = [];
  const resident: Record<string, string> = {};
  for (const real of tools.filter((t) => t.kind === "real" && t.path)) {
    const re = tools.find((t) =>
      t.kind === "re-creation" && t.tool === real.tool
    );
    if (!re?.path) continue;
    binaries.push(describeGoTool(real));
    for (const a of startup.cells.filter((c) => c.contestant === re.id)) {
      const b = startup.cells.find((c) =>
        c.contestant === real.id && c.count === a.count && c.paths === a.paths
      );
      if (!b || !a.startMs.length || !b.startMs.length) continue;
      rows.push({
        tool: real.tool,
        count: a.count,
        paths: a.paths,
        runs: Math.min(a.startMs.length, b.startMs.length),
        recreation: spread(a.startMs),
        real: spread(b.startMs),
        requests: { recreation: a.auditRequests, real: b.auditRequests },
      });
    }
    for (const x of startup.resident) {
      if (x.contestant !== re.id && x.contestant !== real.id) continue;
      resident[`${x.contestant} ${x.count}/${x.paths}`] = x.name === null
        ? "none (exec'd into the app)"
        : `${x.name ?? "failed"}, ${fmt(x.rssKb, 0)} kB`;
    }
  }
  return rows.length ? { date, machine, binaries, rows, resident } : undefined;
}

/** The last check saved, if any. */
export function loadRealCheck(): RealCheck | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(FILE));
  } catch {
    return undefined;
  }
}

/** Saves this run's check for runs without the real binaries. */
export async function saveRealCheck(check: RealCheck): Promise<void> {
  await Deno.writeTextFile(FILE, JSON.stringify(check, null, 2) + "\n");
}

const ms = (x: { medianMs: number; p25Ms: number; p75Ms: number }) =>
  `${fmt(x.medianMs)} ms (${fmt(x.p25Ms)}-${fmt(x.p75Ms)})`;

/** Rows for a table: tool, set, re-creation, real, ratio, requests. */
export function realCheckRows(check: RealCheck): string[][] {
  return check.rows.map((r) => [
    r.tool,
    `${r.count}/${r.paths}`,
    ms(r.recreation),
    ms(r.real),
    `x${fmt(r.recreation.medianMs / r.real.medianMs, 2)}`,
    `${r.requests.recreation ?? "n/a"} / ${r.requests.real ?? "n/a"}`,
  ]);
}

/** How many cells' interquartile ranges overlap, of how many. */
export function overlapping(check: RealCheck): [number, number] {
  const n =
    check.rows.filter((r) =>
      r.recreation.p25Ms <= r.real.p75Ms && r.real.p25Ms <= r.recreation.p75Ms
    ).length;
  return [n, check.rows.length];
}

/** The resident parent per contestant, across the sets. */
export function residentLine(check: RealCheck): string {
  const by = new Map<string, Array<[string, string]>>();
  for (const [key, v] of Object.entries(check.resident)) {
    const [id, set] = key.split(" ");
    by.set(id, [...(by.get(id) ?? []), [set, v]]);
  }
  return [...by].map(([id, vs]) =>
    `${id}: ${
      vs.every(([, v]) => v === vs[0][1])
        ? vs[0][1]
        : vs.map(([set, v]) => `${v} (${set})`).join(", ")
    }`
  ).join("; ");
}

/** The table's head, matching {@linkcode realCheckRows}. */
export const REAL_CHECK_HEAD = [
  "tool",
  "secrets/paths",
  "re-creation: median (p25-p75)",
  "real binary: median (p25-p75)",
  "re-creation / real",
  "requests (re-creation / real)",
];
