/**
 * The real webhook (`cloudtaser-wrapper webhook`, a child process) on a
 * loopback port, with its certificate made by examples/webhook/make-certs.sh,
 * registered with a test cluster from the shipped examples/webhook/webhook.yaml
 * (kubectl parses it; only `clientConfig.service` becomes a loopback `url`,
 * since there is no Service network here).
 */
import type { KubeCluster } from "./kube.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAKE_CERTS = `${ROOT}examples/webhook/make-certs.sh`;
const MANIFEST = `${ROOT}examples/webhook/webhook.yaml`;
const dec = new TextDecoder();

/** A running webhook process. */
export interface WebhookProcess {
  port: number;
  /** Directory of make-certs.sh's output (ca.crt, tls.crt, webhook.yaml ...). */
  certDir: string;
  /** Everything the process printed so far. */
  output(): string;
  /** SIGTERM (SIGKILL 10 s later); resolves with the exit code. Idempotent. */
  stop(): Promise<number>;
}

/** A loopback port free right now. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Runs make-certs.sh for a loopback webhook; returns its output dir. */
export async function makeWebhookCerts(dir: string): Promise<string> {
  const out = await new Deno.Command("bash", {
    args: [MAKE_CERTS, "--out", dir, "--ip", "127.0.0.1"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`make-certs.sh failed: ${dec.decode(out.stderr)}`);
  }
  return dir;
}

/**
 * Starts `deno run src/main.ts webhook` and waits for `/healthz`.
 * `args` are extra flags (`--set VAR=VALUE`, ...).
 */
export async function startWebhook(
  certDir: string,
  image: string,
  args: string[] = [],
  port = freePort(),
): Promise<WebhookProcess> {
  // setpriv --pdeathsig: the webhook dies with this process even when it is
  // killed without running stop().
  const child = new Deno.Command("/usr/bin/setpriv", {
    args: [
      "--pdeathsig",
      "SIGKILL",
      "--",
      Deno.execPath(),
      "run",
      "-A",
      "--config",
      `${ROOT}deno.json`,
      `${ROOT}src/main.ts`,
      "webhook",
      `--tls-cert=${certDir}/tls.crt`,
      `--tls-key=${certDir}/tls.key`,
      "--address=127.0.0.1",
      `--port=${port}`,
      `--image=${image}`,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const pumps = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const c of s) text += dec.decode(c);
  }));
  let exited: Deno.CommandStatus | undefined;
  child.status.then((s) => exited = s);
  const client = Deno.createHttpClient({
    caCerts: [await Deno.readTextFile(`${certDir}/ca.crt`)],
  });
  let stopping: Promise<number> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* exited already */ }
      // A webhook that ignores SIGTERM fails the test (its exit code), it
      // does not hang it.
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* exited meanwhile */ }
      }, 10000);
      const s = await child.status;
      clearTimeout(timer);
      await pumps;
      client.close();
      return s.code;
    })();
  const deadline = Date.now() + 30000;
  while (true) {
    if (exited) {
      await pumps;
      client.close();
      throw new Error(`webhook exited (code ${exited.code}):\n${text}`);
    }
    try {
      const r = await fetch(`https://127.0.0.1:${port}/healthz`, {
        client,
        signal: AbortSignal.timeout(2000),
      });
      if ((await r.text()) === "ok\n") break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`webhook did not answer /healthz:\n${text}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, certDir, output: () => text, stop };
}

/**
 * The objects of `<certDir>/webhook.yaml` (examples/webhook/webhook.yaml with
 * the caBundle filled by make-certs.sh), as kubectl parses them.
 */
export async function manifestObjects(
  k: KubeCluster,
  certDir: string,
  // deno-lint-ignore no-explicit-any
): Promise<any[]> {
  const out = await k.kubectl([
    "create",
    "--dry-run=client",
    "-o",
    "json",
    "-f",
    `${certDir}/webhook.yaml`,
  ]);
  if (!out.success) {
    throw new Error(
      `kubectl could not read ${MANIFEST}: ${dec.decode(out.stderr)}`,
    );
  }
  return jsonStream(dec.decode(out.stdout));
}

/**
 * The webhook configurations of the manifest, each pointed at
 * `https://127.0.0.1:<port>` instead of the in-cluster Service.
 */
export async function webhookConfigurations(
  k: KubeCluster,
  certDir: string,
  port: number,
  // deno-lint-ignore no-explicit-any
): Promise<any[]> {
  const items = (await manifestObjects(k, certDir)).filter((o) =>
    o.kind === "MutatingWebhookConfiguration" ||
    o.kind === "ValidatingWebhookConfiguration"
  );
  for (const cfg of items) {
    for (const w of cfg.webhooks) {
      const path = w.clientConfig.service.path;
      w.clientConfig = {
        url: `https://127.0.0.1:${port}${path}`,
        caBundle: w.clientConfig.caBundle,
      };
    }
  }
  return items;
}

/** The objects of kubectl's `-o json` for several documents: one after another. */
// deno-lint-ignore no-explicit-any
function jsonStream(text: string): any[] {
  const out = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{") {
      if (depth++ === 0) start = i;
    } else if (c === "}" && --depth === 0) {
      out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

/** The API path of a webhook configuration. */
export function configurationPath(kind: string, name = ""): string {
  const plural = kind === "MutatingWebhookConfiguration"
    ? "mutatingwebhookconfigurations"
    : "validatingwebhookconfigurations";
  return `/apis/admissionregistration.k8s.io/v1/${plural}${
    name ? `/${name}` : ""
  }`;
}

/** Registers the shipped configurations for a loopback webhook. */
export async function registerWebhook(
  k: KubeCluster,
  hook: { certDir: string; port: number },
): Promise<void> {
  for (const cfg of await webhookConfigurations(k, hook.certDir, hook.port)) {
    await k.must("POST", configurationPath(cfg.kind), cfg);
  }
}
