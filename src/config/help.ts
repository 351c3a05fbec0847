/** Renders the configuration table for `--help` and the README. */
import { type Setting, SETTINGS } from "./table.ts";

function kindText(s: Setting, sep = "|"): string {
  const k = s.kind;
  switch (k.type) {
    case "enum":
      return k.values.join(sep);
    case "int":
      return `${k.min}-${k.max}`;
    case "list":
      return "comma-separated list";
    default:
      return k.type;
  }
}

/** Plain-text table for the terminal. */
export function settingsHelp(): string {
  const rows = (SETTINGS as readonly Setting[]).map((s) => {
    const name = s.alias ? `${s.name} (${s.alias})` : s.name;
    const def = s.default ? ` [default: ${s.default}]` : "";
    return `  ${name}\n      ${s.meaning} <${kindText(s)}>${def}`;
  });
  return rows.join("\n");
}

/** Markdown table for the README. */
export function settingsMarkdown(): string {
  const head = "| variable | values | default | meaning |\n|---|---|---|---|";
  const rows = (SETTINGS as readonly Setting[]).map((s) => {
    const name = s.alias ? `\`${s.name}\` (\`${s.alias}\`)` : `\`${s.name}\``;
    return `| ${name} | ${kindText(s, ", ")} | ${
      s.default ? `\`${s.default}\`` : ""
    } | ${s.meaning} |`;
  });
  return [head, ...rows].join("\n");
}
