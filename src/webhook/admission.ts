/**
 * AdmissionReview v1 in, AdmissionReview v1 out, for the two checks the
 * server answers: `mutate` (JSONPatch) and `validate`. Pure.
 */
import { AnnotationError } from "./annotations.ts";
import { type InjectOptions, injectPod } from "./inject.ts";
import { jsonPatch, type PatchOp } from "./patch.ts";
import { type Pod, podName } from "./pod.ts";
import { checkPod } from "./validate.ts";

/** The request half of an AdmissionReview (the fields used here). */
export interface AdmissionRequest {
  uid: string;
  kind?: { group?: string; version?: string; kind?: string };
  operation?: string;
  namespace?: string;
  object?: unknown;
  dryRun?: boolean;
}

/** The response half of an AdmissionReview. */
export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: "JSONPatch";
  /** base64 of the JSON Patch. */
  patch?: string;
  status?: { code: number; message: string };
  warnings?: string[];
}

/** What one review decided, for the log line. */
export interface Decision {
  response: AdmissionResponse;
  /** `injected`, `unchanged`, `skipped`, `refused`, `allowed`. */
  outcome: string;
  pod: string;
  detail?: string;
}

/** The body is not an AdmissionReview v1 with a request. */
export class ReviewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ReviewError";
  }
}

/** Reads `request` out of an AdmissionReview body. */
export function parseReview(body: unknown): AdmissionRequest {
  const r = body as { apiVersion?: string; kind?: string; request?: unknown };
  if (
    typeof r !== "object" || r === null || r.kind !== "AdmissionReview" ||
    r.apiVersion !== "admission.k8s.io/v1"
  ) {
    throw new ReviewError("expected an admission.k8s.io/v1 AdmissionReview");
  }
  const req = r.request as AdmissionRequest | undefined;
  if (typeof req?.uid !== "string") {
    throw new ReviewError("the AdmissionReview has no request.uid");
  }
  return req;
}

/** Wraps a response in an AdmissionReview v1. */
export function reviewResponse(response: AdmissionResponse) {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    response,
  };
}

function refuse(uid: string, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code: 403, message } };
}

function asPod(req: AdmissionRequest): Pod | null {
  const k = req.kind;
  if (k && (k.kind !== "Pod" || (k.group ?? "") !== "")) return null;
  const o = req.object;
  return typeof o === "object" && o !== null ? o as Pod : null;
}

const enc = new TextEncoder();

function base64(s: string): string {
  const bytes = enc.encode(s);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** The mutating webhook's answer. */
export function mutate(req: AdmissionRequest, opts: InjectOptions): Decision {
  const pod = asPod(req);
  const name = pod ? podName(pod, req.namespace) : "(not a pod)";
  if (!pod || (req.operation && req.operation !== "CREATE")) {
    return {
      response: { uid: req.uid, allowed: true },
      outcome: "skipped",
      pod: name,
      detail: "not a pod CREATE",
    };
  }
  let r;
  try {
    r = injectPod(pod, opts);
  } catch (e) {
    if (!(e instanceof AnnotationError)) throw e;
    return {
      response: refuse(req.uid, `cloudtaser: ${e.message}`),
      outcome: "refused",
      pod: name,
      detail: e.message,
    };
  }
  if (r.action === "skip") {
    return {
      response: { uid: req.uid, allowed: true },
      outcome: "skipped",
      pod: name,
      detail: r.reason,
    };
  }
  const ops: PatchOp[] = jsonPatch(pod, r.pod);
  if (ops.length === 0) {
    return {
      response: { uid: req.uid, allowed: true },
      outcome: "unchanged",
      pod: name,
    };
  }
  return {
    response: {
      uid: req.uid,
      allowed: true,
      patchType: "JSONPatch",
      patch: base64(JSON.stringify(ops)),
    },
    outcome: "injected",
    pod: name,
    detail: `wrapped ${r.wrapped.join(", ")}`,
  };
}

/** The validating webhook's answer. */
export function validate(
  req: AdmissionRequest,
  opts: InjectOptions,
): Decision {
  const pod = asPod(req);
  const name = pod ? podName(pod, req.namespace) : "(not a pod)";
  if (!pod || (req.operation && req.operation !== "CREATE")) {
    return {
      response: { uid: req.uid, allowed: true },
      outcome: "allowed",
      pod: name,
      detail: "not a pod CREATE",
    };
  }
  const problem = checkPod(pod, opts);
  return problem
    ? {
      response: refuse(req.uid, problem),
      outcome: "refused",
      pod: name,
      detail: problem,
    }
    : {
      response: { uid: req.uid, allowed: true },
      outcome: "allowed",
      pod: name,
    };
}
