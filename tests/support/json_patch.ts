/**
 * Applies a JSON Patch (RFC 6902) of `add` and `replace` operations, as the
 * API server would apply the webhook's answer. Only what the tests need;
 * any other operation is an error, not a silent no-op.
 */

function unescape(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** Returns a patched deep copy of `doc`. */
export function applyPatch(
  doc: unknown,
  ops: Array<{ op: string; path: string; value?: unknown }>,
): unknown {
  const root = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    if (op.op !== "add" && op.op !== "replace") {
      throw new Error(`applyPatch: unsupported op ${op.op}`);
    }
    const tokens = op.path.split("/").slice(1).map(unescape);
    const last = tokens.pop()!;
    let parent: unknown = root;
    for (const t of tokens) {
      parent = (parent as Record<string, unknown>)[t];
      if (typeof parent !== "object" || parent === null) {
        throw new Error(`applyPatch: ${op.path}: no parent at ${t}`);
      }
    }
    if (Array.isArray(parent)) {
      const i = last === "-" ? parent.length : Number(last);
      if (op.op === "add") parent.splice(i, 0, structuredClone(op.value));
      else parent[i] = structuredClone(op.value);
    } else {
      (parent as Record<string, unknown>)[last] = structuredClone(op.value);
    }
  }
  return root;
}
