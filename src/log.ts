/**
 * Logging: LogTape to stderr, one JSON line per record when stderr is not a
 * TTY, readable text when it is. Each record names the program and pid.
 *
 * The sink writes synchronously: the wrapper execs into the supervisor, and
 * an asynchronous sink would lose what it had buffered. Never pass a secret
 * value to a logger; tests grep all output for test secrets.
 */
import {
  configureSync,
  getLogger,
  type Logger,
  type LogLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

const PROGRAM = "cloudtaser-wrapper";
const enc = new TextEncoder();

function message(r: LogRecord): string {
  return r.message.map((m) => typeof m === "string" ? m : JSON.stringify(m))
    .join("");
}

/** One JSON object per line: time, level, program, pid, logger, message, properties. */
export function jsonLine(r: LogRecord): string {
  return JSON.stringify({
    time: new Date(r.timestamp).toISOString(),
    level: r.level,
    program: PROGRAM,
    pid: Deno.pid,
    logger: r.category.join("."),
    message: message(r),
    ...r.properties,
  }) + "\n";
}

function textLine(r: LogRecord): string {
  const props = Object.entries(r.properties)
    .map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("");
  return `${PROGRAM}[${Deno.pid}] ${r.level.toUpperCase()} ${
    message(r)
  }${props}\n`;
}

/** Configures logging once; later calls reconfigure. */
export function setupLogging(
  level: LogLevel = "info",
  json = !Deno.stderr.isTerminal(),
): void {
  const format = json ? jsonLine : textLine;
  resetSync();
  configureSync({
    sinks: {
      stderr: (r: LogRecord) => {
        try {
          Deno.stderr.writeSync(enc.encode(format(r)));
        } catch { /* stderr closed: nothing better to do */ }
      },
    },
    loggers: [
      { category: ["cloudtaser"], lowestLevel: level, sinks: ["stderr"] },
      {
        category: ["logtape", "meta"],
        lowestLevel: "warning",
        sinks: ["stderr"],
      },
    ],
  });
}

/** A logger under the `cloudtaser` category, e.g. `log("vault")`. */
export function log(...sub: string[]): Logger {
  return getLogger(["cloudtaser", ...sub]);
}
