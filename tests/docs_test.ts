/** The README's configuration table is the configuration table. */
import assert from "node:assert/strict";
import { settingsMarkdown } from "../src/config/help.ts";

Deno.test("README.md holds the table generated from src/config/table.ts", async () => {
  const readme = await Deno.readTextFile(
    new URL("../README.md", import.meta.url),
  );
  const norm = (s: string) =>
    s.replace(/\s*\|\s*/g, "|").replace(/\|-+/g, "|-");
  assert.ok(
    norm(readme).includes(norm(settingsMarkdown())),
    "regenerate the README table from settingsMarkdown()",
  );
});
