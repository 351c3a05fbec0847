/**
 * What the wrapper starts before it loads anything else: signal capture, so
 * that no start-up signal is lost or kills the start (ffi/handover.ts).
 *
 * (Until the requests moved into the shim's OpenSSL client, this also
 * warmed up AWS-LC's random generator on a worker thread: 30-40 ms of CPU
 * per process that no start spends any more; docs/startup-profile.md.)
 */
import { captureSignals } from "../ffi/handover.ts";

/** Starts the early work; returns at once. */
export function startEarly(): void {
  captureSignals();
}
