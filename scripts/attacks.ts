/**
 * `deno task attacks`: runs the root attack matrix (tests/support/attacks/)
 * and writes docs/security.md. Root only (it reads other processes' memory,
 * loads the enforcer and points core_pattern at a temp dir, restoring it).
 *
 * ```sh
 * deno task attacks            # writes docs/security.md
 * deno run -A scripts/attacks.ts --out -   # prints it instead
 * ```
 */
import { parseArgs } from "node:util";
import { runMatrix } from "../tests/support/attacks/matrix.ts";
import { failures, renderSecurity } from "../tests/support/attacks/render.ts";

const { values } = parseArgs({
  options: { out: { type: "string", default: "docs/security.md" } },
});

if (Deno.uid() !== 0) {
  console.error("attacks: the matrix needs root");
  Deno.exit(2);
}
const report = await runMatrix({ log: (l) => console.error(l) });
const md = renderSecurity(report);
const out = values.out!;
if (out === "-") {
  console.log(md);
} else {
  const path = out.startsWith("/")
    ? out
    : new URL(`../${out}`, import.meta.url).pathname;
  Deno.writeTextFileSync(path, md);
  // deno task check runs deno fmt --check over docs/ too
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", path] })
    .output();
  console.error(`attacks: wrote ${out}`);
}
const bad = failures(report);
console.error(
  `attacks: ${report.cells.length} cells in ${
    (report.durationMs / 1000).toFixed(1)
  } s; ${bad.length} recovered where the design says blocked`,
);
for (const c of bad) {
  console.error(`  FAIL ${c.vector} ${c.target} ${c.mode}: ${c.short}`);
}
Deno.exit(bad.length ? 1 : 0);
