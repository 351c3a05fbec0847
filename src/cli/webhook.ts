/**
 * `webhook`: serves the mutating and validating admission webhook
 * (src/webhook/). Loaded only for this subcommand, so the wrapper's own
 * start-up does not load it.
 *
 * ```text
 * cloudtaser-wrapper webhook --tls-cert FILE --tls-key FILE --image IMAGE
 *     [--port 8443] [--address 0.0.0.0] [--set VAR=VALUE]...
 *     [--image-pull-policy POLICY] [--volume-size 256Mi]
 * ```
 */
import { ConfigError, parseConfig } from "../config/parse.ts";
import { type Setting, SETTINGS } from "../config/table.ts";
import { log } from "../log.ts";
import { serveWebhook } from "../webhook/serve.ts";
import { CommandLineError } from "./command_line.ts";
import { watchStopSignals } from "./stop_signals.ts";

export const WEBHOOK_USAGE = `Usage:
  cloudtaser-wrapper webhook --tls-cert FILE --tls-key FILE --image IMAGE
      [--port 8443] [--address 0.0.0.0] [--set VAR=VALUE]...
      [--image-pull-policy POLICY] [--volume-size 256Mi]

Serves POST /mutate and POST /validate (AdmissionReview v1) and GET /healthz
over HTTPS. --image is the wrapper image the init container installs from.
--set gives every wrapped container a wrapper variable (for example
VAULT_ADDR) unless its pod's annotations or its own env set it.
See docs/kubernetes.md.
`;

/** `--set` pairs, checked against the configuration table. */
export function parseDefaults(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf("=");
    const name = eq > 0 ? p.slice(0, eq) : "";
    const s = (SETTINGS as readonly Setting[]).find((x) => x.name === name);
    if (!s) {
      throw new CommandLineError(
        `--set ${eq > 0 ? name : p}: expected VAR=VALUE with VAR from the ` +
          "configuration table (cloudtaser-wrapper --help)",
      );
    }
    if (s.sensitive) {
      throw new CommandLineError(
        `--set ${name}: a credential does not belong in a pod spec`,
      );
    }
    out[name] = p.slice(eq + 1);
  }
  parseConfig(out); // throws ConfigError naming each bad value
  return out;
}

async function readPem(flag: string, path: string | undefined) {
  if (!path) throw new CommandLineError(`webhook needs ${flag} FILE`);
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new CommandLineError(
      `${flag} ${path} cannot be read: ${(e as Error).message}`,
    );
  }
}

/** Runs the server until SIGTERM, SIGINT or SIGQUIT; returns the exit code. */
export async function webhookCommand(args: string[]): Promise<number> {
  // node:util here, not at the top: a bundle hoists static imports, and
  // the wrapper's own start must not load the Node compatibility layer.
  const { parseArgs } = await import("node:util");
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        image: { type: "string" },
        "image-pull-policy": { type: "string" },
        "volume-size": { type: "string" },
        port: { type: "string", default: "8443" },
        address: { type: "string", default: "0.0.0.0" },
        set: { type: "string", multiple: true, default: [] },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new CommandLineError(`webhook: ${(e as Error).message}`);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(WEBHOOK_USAGE);
    return 0;
  }
  if (!values.image) throw new CommandLineError("webhook needs --image IMAGE");
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CommandLineError(`--port ${values.port}: expected 0-65535`);
  }
  let defaults;
  try {
    defaults = parseDefaults(values.set);
  } catch (e) {
    if (e instanceof ConfigError) {
      throw new CommandLineError(`--set: ${e.problems.join("; ")}`);
    }
    throw e;
  }
  // src/boot.ts has put signal recorders in place of the runtime's
  // handlers: SIGTERM, SIGINT and SIGQUIT are seen by polling them.
  const stop = watchStopSignals();
  const server = serveWebhook({
    cert: await readPem("--tls-cert", values["tls-cert"]),
    key: await readPem("--tls-key", values["tls-key"]),
    hostname: values.address,
    port,
    signal: stop.signal,
    inject: {
      image: values.image,
      imagePullPolicy: values["image-pull-policy"],
      volumeSize: values["volume-size"],
      defaults,
    },
  });
  log("webhook").info("listening", {
    address: `${server.hostname}:${server.port}`,
    image: values.image,
    defaults: Object.keys(defaults),
  });
  try {
    await server.finished;
  } finally {
    stop.close();
  }
  log("webhook").info("stopped", { reason: String(stop.signal.reason) });
  return 0;
}
