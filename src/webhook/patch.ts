/**
 * The JSON Patch (RFC 6902) that turns the pod the API server sent into the
 * mutated one. Coarse on purpose: one `add` per changed field the webhook
 * writes (`add` on an existing member replaces it), so the patch is correct
 * whatever the list lengths; an unchanged field gets no operation, and an
 * unchanged pod gets an empty patch.
 */
import { covers, type Pod } from "./pod.ts";

/** One operation. */
export interface PatchOp {
  op: "add";
  path: string;
  value: unknown;
}

/** The fields the webhook may change, as JSON pointers into a Pod. */
const FIELDS: ReadonlyArray<readonly string[]> = [
  ["metadata", "annotations"],
  ["spec", "volumes"],
  ["spec", "initContainers"],
  ["spec", "containers"],
];

function at(o: unknown, path: readonly string[]): unknown {
  let cur = o;
  for (const k of path) {
    if (typeof cur !== "object" || cur === null) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** JSON pointer escaping (`~` -> `~0`, `/` -> `~1`). */
function pointer(path: readonly string[]): string {
  return "/" + path.map((k) => k.replace(/~/g, "~0").replace(/\//g, "~1"))
    .join("/");
}

/** The operations taking `before` to `after`. */
export function jsonPatch(before: Pod, after: Pod): PatchOp[] {
  const ops: PatchOp[] = [];
  for (const path of FIELDS) {
    const a = at(after, path);
    if (a === undefined) continue;
    const b = at(before, path);
    if (covers(b, a) && covers(a, b)) continue;
    // The parent must exist for `add`; metadata and spec always do in a
    // pod the API server sends, but add them when a test's pod lacks them.
    if (at(before, path.slice(0, -1)) === undefined) {
      ops.push({ op: "add", path: pointer(path.slice(0, -1)), value: {} });
    }
    ops.push({ op: "add", path: pointer(path), value: a });
  }
  return ops;
}
