/**
 * The resident supervisor's memory across refreshes (docs/refresh.md
 * "Constraints": its RSS must not grow with the number of refreshes). Runs
 * the supervisor with refresh_fake playing the refresh process every 20 ms,
 * each refresh changing the token region and the app's records (written in
 * place, signal:SIGHUP), and reads VmRSS and Pss of the supervisor after
 * the app started, after the first refresh and after the 50th (and 200th).
 *
 * `deno task bench` runs it (target: the RSS after the last refresh at or
 * below the RSS after the first, the baseline of the same run); alone:
 *
 * ```sh
 * deno task build && deno run -A scripts/bench/refresh_rss.ts
 * ```
 * which prints the table and exits 1 when the target is missed.
 *
 * @module
 */
import { Launch } from "../../tests/support/refresh.ts";
import { TESTAPP } from "../../tests/support/supervisor.ts";

const AFTER = [1, 50, 200];

/** The supervisor's memory at one point of the run. */
export interface RefreshRssRow {
  after: string;
  rssKb: number;
  pssKb: number;
}

function memory(pid: number): { rssKb: number; pssKb: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rollup = Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`);
  const kb = (text: string, field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  return { rssKb: kb(status, "VmRSS"), pssKb: kb(rollup, "Pss") };
}

/** Runs the supervisor through 200 refreshes; its memory along the way. */
export async function benchRefreshRss(): Promise<RefreshRssRow[]> {
  const l = new Launch([TESTAPP, "watch", "K", "sdk"], {
    app: { K: "refresh-rss-value", OTHER: "x".repeat(200) },
    token: { VAULT_TOKEN: "refresh-rss-token" },
    launcher: ["--fd-env"],
    fake: ["--app-change", "--token-change", "--due", "20"],
    args: [
      "--delivery",
      "fd",
      "--due-ms",
      "500",
      "--on-change",
      "signal:SIGHUP",
      "--revoke-on-exit",
      "0",
    ],
  });
  const rows: RefreshRssRow[] = [];
  try {
    await l.waitStdout(/^ready \d+$/m);
    rows.push({ after: "the app started", ...memory(l.pid) });
    for (const n of AFTER) {
      await l.waitStderr(
        new RegExp(`"refresh":\\{"op":"due","n":${n},"status":"ok"`),
        60000,
      );
      rows.push({ after: `refresh ${n}`, ...memory(l.pid) });
    }
    Deno.kill(l.pid, "SIGTERM");
    await l.status();
  } finally {
    await l.close();
  }
  return rows;
}

/** True when the RSS after the last refresh is at most after the first. */
export function refreshRssFlat(rows: RefreshRssRow[]): boolean {
  return rows[rows.length - 1].rssKb <= rows[1].rssKb;
}

if (import.meta.main) {
  const rows = await benchRefreshRss();
  console.log("| supervisor after | VmRSS kB | Pss kB |\n|---|---|---|");
  for (const r of rows) console.log(`| ${r.after} | ${r.rssKb} | ${r.pssKb} |`);
  if (!refreshRssFlat(rows)) Deno.exit(1);
}
