/**
 * Splits the app's command: what follows `--` (or the first positional), or
 * else CLOUDTASER_ORIGINAL_CMD, which is either a JSON array of strings
 * (exact, as a Kubernetes `command:` is) or a string split on blanks with
 * single and double quotes grouping words (no expansion, no shell).
 */

/** The command could not be determined. */
export class CommandLineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandLineError";
  }
}

/** Splits a command string into words; quotes group, backslash escapes. */
export function splitWords(s: string): string[] {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) {
    throw new CommandLineError(
      `CLOUDTASER_ORIGINAL_CMD has an unterminated ${quote} quote`,
    );
  }
  if (inWord) words.push(cur);
  return words;
}

/** The app's argv from the CLI words and the environment. */
export function appCommand(
  words: string[],
  originalCmd: string | undefined,
): string[] {
  if (words.length > 0) return words;
  if (originalCmd === undefined || originalCmd.trim() === "") {
    throw new CommandLineError(
      "no command: give one after -- (cloudtaser-wrapper -- CMD ARGS...) " +
        "or set CLOUDTASER_ORIGINAL_CMD",
    );
  }
  const text = originalCmd.trim();
  if (text.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new CommandLineError(
        "CLOUDTASER_ORIGINAL_CMD starts with [ but is not a JSON array",
      );
    }
    if (
      !Array.isArray(parsed) || parsed.length === 0 ||
      !parsed.every((w) => typeof w === "string")
    ) {
      throw new CommandLineError(
        "CLOUDTASER_ORIGINAL_CMD must be a non-empty JSON array of strings",
      );
    }
    return parsed;
  }
  return splitWords(text);
}
