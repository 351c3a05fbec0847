/**
 * What the wrapper starts before it loads anything else.
 *
 * 1. Signal capture: no start-up signal may be lost or kill the start
 *    (ffi/handover.ts).
 * 2. Deno's one-time crypto set-up. The first operation that needs its
 *    random generator (the first TLS handshake, or WebCrypto key generation)
 *    spends 60-90 ms of CPU seeding it, once per process. Done by the first
 *    TLS handshake, that time adds to the start-up serially; ECDH key
 *    generation runs on Deno's blocking thread pool, so starting one here
 *    lets the seeding run on the second core while the main thread loads
 *    modules and sets up the region (measured: the first mTLS request went
 *    from about 110 ms to about 28 ms after 60 ms of other work).
 */
import { captureSignals } from "../ffi/handover.ts";

/** Starts the early work; returns at once. */
export function startEarly(): void {
  captureSignals();
  crypto.subtle.generateKey({ name: "ECDH", namedCurve: "P-256" }, false, [
    "deriveBits",
  ]).catch(() => {/* only a warm-up: the TLS handshake will say what fails */});
}
