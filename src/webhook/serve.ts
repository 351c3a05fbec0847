/**
 * The webhook's HTTPS server. The API server authenticates it by its
 * certificate (the `caBundle` of the webhook configurations); it needs no
 * client certificate, never talks to Vault and never sees a secret.
 *
 * | route | answers |
 * |---|---|
 * | `POST /mutate` | AdmissionReview v1 with a JSONPatch (src/webhook/inject.ts) |
 * | `POST /validate` | AdmissionReview v1, allowed or refused (src/webhook/validate.ts) |
 * | `GET /healthz` | `ok` (readiness and liveness probes) |
 */
import { log } from "../log.ts";
import {
  type Decision,
  mutate,
  parseReview,
  ReviewError,
  reviewResponse,
  validate,
} from "./admission.ts";
import type { InjectOptions } from "./inject.ts";

/** Options of {@linkcode serveWebhook}. */
export interface WebhookServerOptions {
  /** PEM certificate chain and key of the serving certificate. */
  cert: string;
  key: string;
  /** @default "0.0.0.0" */
  hostname?: string;
  /** 0 picks a free port. @default 8443 */
  port?: number;
  inject: InjectOptions;
  signal?: AbortSignal;
}

/** A running server. */
export interface WebhookServer {
  port: number;
  hostname: string;
  finished: Promise<void>;
  shutdown(): Promise<void>;
}

/** Pods are at most about 1.5 MB in etcd; an AdmissionReview holds one. */
const MAX_BODY = 4 * 1024 * 1024;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function readBody(req: Request): Promise<unknown> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY) throw new ReviewError("request body too large");
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body ?? new ReadableStream()) {
    size += chunk.length;
    if (size > MAX_BODY) throw new ReviewError("request body too large");
    chunks.push(chunk);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  try {
    return JSON.parse(new TextDecoder().decode(all));
  } catch {
    throw new ReviewError("the body is not JSON");
  }
}

/** Answers one HTTP request. Exported for tests that call it directly. */
export async function handle(
  req: Request,
  opts: InjectOptions,
): Promise<Response> {
  const url = new URL(req.url);
  if (req.method === "GET" && url.pathname === "/healthz") {
    return new Response("ok\n");
  }
  const review = { "/mutate": mutate, "/validate": validate }[url.pathname];
  if (!review) return new Response("not found\n", { status: 404 });
  if (req.method !== "POST") {
    return new Response("POST an AdmissionReview\n", { status: 405 });
  }
  let decision: Decision;
  try {
    decision = review(parseReview(await readBody(req)), opts);
  } catch (e) {
    if (!(e instanceof ReviewError)) throw e;
    log("webhook").warning("bad request", {
      route: url.pathname,
      error: e.message,
    });
    return new Response(`${e.message}\n`, { status: 400 });
  }
  log("webhook").info(`${url.pathname.slice(1)}: ${decision.outcome}`, {
    pod: decision.pod,
    uid: decision.response.uid,
    ...(decision.detail ? { detail: decision.detail } : {}),
  });
  return json(200, reviewResponse(decision.response));
}

/**
 * Starts the server; it listens when this returns.
 *
 * @example
 * ```ts
 * const s = serveWebhook({
 *   cert: await Deno.readTextFile("tls.crt"),
 *   key: await Deno.readTextFile("tls.key"),
 *   inject: { image: "cloudtaser-wrapper:0.1.0" },
 * });
 * await s.finished;
 * ```
 */
export function serveWebhook(opts: WebhookServerOptions): WebhookServer {
  const server = Deno.serve({
    cert: opts.cert,
    key: opts.key,
    hostname: opts.hostname ?? "0.0.0.0",
    port: opts.port ?? 8443,
    signal: opts.signal,
    onListen: () => {}, // the caller logs where it listens
    onError: (e) => {
      log("webhook").error("request failed", { error: String(e) });
      return new Response("internal error\n", { status: 500 });
    },
  }, (req) => handle(req, opts.inject));
  return {
    port: server.addr.port,
    hostname: server.addr.hostname,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}
