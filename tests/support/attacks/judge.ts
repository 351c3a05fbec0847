/** Judging: what an attack's output means for a cell (blocked, recovered, allowed, n/a). */
import type { AppInfo, AttackFacts } from "./runner.ts";
import type { Judged, Target, VectorId } from "./table.ts";

/** Turns what an attack reported into a cell's outcome and detail;
 * `names` label the markers where an item counts each one. */
export function judge(
  f: AttackFacts,
  vector: VectorId,
  names: string[] = [],
): Judged {
  if (f.killed) {
    const by = f.denial ? `enforcer: ${f.denial}` : "no denial event seen";
    return {
      result: "blocked",
      hits: 0,
      short: `killed (${f.denial?.replace(/^killed /, "") ?? "SIGKILL"})`,
      detail: `killed (SIGKILL) at \`${
        (f.lastStep ?? "start").replace(/\/proc\/\d+/, "/proc/<pid>")
      }\` (${by})`,
    };
  }
  if (f.error) {
    return {
      result: "n/a",
      hits: 0,
      short: "attack failed",
      detail: `attack failed: ${f.error}`,
    };
  }
  const detail = f.items.map((i) => describeItem(i, names)).join("; ");
  if (f.hits > 0) {
    const where = [
      ...new Set(
        f.items.filter((i) => Number(i.hits) > 0).map((i) =>
          String(i.kind ? i.target : i.what)
        ),
      ),
    ];
    return {
      result: "recovered",
      hits: f.hits,
      short: `${f.hits} markers (${where.join(", ")})`,
      detail,
    };
  }
  if (vector === "coredump_filter") {
    const err = f.items.find((i) => i.err)?.err;
    return err
      ? { result: "blocked", hits: 0, short: String(err), detail }
      : { result: "allowed", hits: 0, short: "written (0x1ff)", detail };
  }
  const errs = f.items.filter((i) =>
    i.err && i.err !== "EBADF" && i.err !== "ENOENT"
  ).map((i) => {
    const what = String(i.what);
    const on = /secretmem|region/.test(what)
      ? "region"
      : what.startsWith("fd ")
      ? what
      : what.replace(/^open /, "");
    return `${i.err} (${on})`;
  });
  const uniq = [...new Set(errs)].filter((e) => !/\[vvar/.test(e));
  return {
    result: "blocked",
    hits: 0,
    short: uniq.length ? `${uniq.join(", ")}; 0 markers` : "0 markers",
    detail,
  };
}

function describeItem(i: Record<string, unknown>, names: string[]): string {
  const what = String(i.what ?? "");
  if ("token_strings" in i) {
    return `${what}: ${i.token_strings} token-shaped strings` +
      (i.err ? `, then ${i.err}` : "");
  }
  if ("kind" in i) {
    const errs = [
      i.read_err && `read ${i.read_err}`,
      i.mmap_err && `mmap ${i.mmap_err}`,
    ].filter(Boolean).join(", ");
    const hits = "hits" in i ? `, ${i.hits} markers` : "";
    return `${what}: ${i.target}${errs ? ` (${errs})` : ""}${hits}`;
  }
  if ("count" in i) return `${what}: ${i.count}, 0 markers`;
  if (i.err === "EBADF" || i.err === "ENOENT") {
    return `${what}: ${i.err} (closed since the app listed it)`;
  }
  if ("err" in i && !Number(i.bytes)) return `${what}: ${i.err}`;
  if (what.startsWith("write ")) return `${what}: written`;
  const err = i.err ? `, then ${i.err}` : "";
  // per secret: the runtime's copies of each value, counted apart
  const per = Array.isArray(i.per) && Number(i.hits) > 0
    ? ` (${
      (i.per as number[]).map((n, k) =>
        `${names[k] ?? `marker ${k + 1}`} x${n}`
      )
        .join(", ")
    })`
    : "";
  return `${what}: ${i.bytes} bytes read, ${i.hits} markers${per}${err}`;
}

/** The region's mapping as ct-app read it from /proc/<pid>/maps: a stray
 * write faults when it is read-only between PROT_NONE pages. */
export function judgeLayout(i: AppInfo, target: Target): Judged {
  const l = target === "wrapper" ? i.wrapper_layout : i.app_layout;
  if (!l) {
    return {
      result: "n/a",
      hits: 0,
      short: "no region",
      detail: "no /secretmem mapping in this process",
    };
  }
  const text = `${l.perms} between ${l.before || "no VMA"} and ${
    l.after || "no VMA"
  }`;
  const guarded = l.before.startsWith("---") && l.after.startsWith("---");
  const readOnly = l.perms.startsWith("r--");
  return {
    result: guarded && readOnly ? "blocked" : "allowed",
    hits: 0,
    short: text,
    detail: `/proc/<pid>/maps: the /secretmem VMA is ${text}` +
      (readOnly ? "" : "; writable: a stray write lands in it") +
      (guarded ? "" : "; no guard page on one side"),
  };
}
