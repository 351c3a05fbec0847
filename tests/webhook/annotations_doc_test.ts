/** docs/kubernetes.md lists every annotation the webhook reads. */
import assert from "node:assert/strict";
import * as A from "../../src/webhook/annotations.ts";

const DOC = new URL("../../docs/kubernetes.md", import.meta.url);

Deno.test("docs/kubernetes.md names every annotation and the variable it sets", async () => {
  const doc = await Deno.readTextFile(DOC);
  const rows = doc.split("\n").filter((l) => l.startsWith("| `"));
  for (const [annotation, variable] of A.VARIABLE_ANNOTATIONS) {
    const row = rows.find((l) => l.startsWith(`| \`${annotation}\``));
    assert.ok(row, `${annotation} is not in docs/kubernetes.md's table`);
    assert.ok(row.includes(`\`${variable}\``), `${annotation}: ${variable}`);
  }
  for (
    const a of [
      A.INJECT,
      A.CONTAINERS,
      A.ORIGINAL_COMMAND,
      A.EBPF,
      A.VAULT_TLS_SECRET,
      A.WRAP_EXEC_PROBES,
    ]
  ) {
    assert.ok(rows.some((l) => l.startsWith(`| \`${a}\``)), a);
  }
});
