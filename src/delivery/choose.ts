/**
 * The choice among `CLOUDTASER_DELIVERY=auto|env|interposer|fd` for a target
 * program (elf.ts says what it is). The choice is data: the delivery, and
 * when a request fell back to env, the reason; the words are made where the
 * reason is logged or refused ({@link fallbackWarning},
 * {@link describeFallback}).
 */
import type { Delivery } from "../../ffi/constants.ts";
import type { EnumValue } from "../config/table.ts";
import type { Libc, TargetInfo } from "./elf.ts";

/** `CLOUDTASER_DELIVERY`: a delivery, or `auto`. */
export type RequestedDelivery = EnumValue<"CLOUDTASER_DELIVERY">;

/** Why the interposer cannot serve a program. */
export interface FallbackReason {
  /**
   * `static`: no dynamic loader; `musl`: musl's loader; `unknown-libc`: no
   * recognised ELF for this architecture; `go`: the Go runtime.
   */
  cause: "static" | "musl" | "unknown-libc" | "go";
  /** The program (the end of the exec chain, or the command). */
  program: string;
}

/** The delivery to use, and why it differs from the request. */
export interface DeliveryChoice {
  delivery: Delivery;
  /** Set when the request fell back to `env`. */
  fallback?: FallbackReason;
}

/**
 * Chooses the delivery for `CLOUDTASER_DELIVERY`. `env` and `fd` are taken as
 * asked. `interposer` and `auto` give the interposer only where it works: a
 * glibc-dynamic ELF of this architecture, not a Go program (Go copies its
 * environment from the initial stack and never calls getenv). A script run
 * through `env` (`#!/usr/bin/env NAME`, pyenv-style shims) qualifies when
 * NAME does: the interposer hands each program a glibc program execs a
 * region of its own (docs/interposer.md), so env, the shell and the final
 * program each keep interposer delivery. Anywhere else they fall back to
 * `env`, with the reason.
 *
 * @example
 * ```ts
 * const choice = chooseDelivery("auto", inspectTarget(argv[0]));
 * if (choice.fallback) log.warn(fallbackWarning("auto", choice.fallback));
 * ```
 */
export function chooseDelivery(
  requested: RequestedDelivery,
  target: TargetInfo | Libc,
): DeliveryChoice {
  if (requested === "env" || requested === "fd") return { delivery: requested };
  const t: TargetInfo = typeof target === "string"
    ? { command: "", chain: [], libc: target, viaEnv: false, go: false }
    : target;
  const program = t.chain.at(-1) ?? (t.command || "the target");
  const cause = t.libc === "static"
    ? "static"
    : t.libc === "musl"
    ? "musl"
    : t.libc === "unknown"
    ? "unknown-libc"
    : t.go
    ? "go"
    : undefined;
  if (cause === undefined) return { delivery: "interposer" };
  return { delivery: "env", fallback: { cause, program } };
}

/** Why the interposer cannot serve the program: one clause, no values. */
export function describeFallback(r: FallbackReason): string {
  switch (r.cause) {
    case "static":
      return `${r.program} is statically linked and does not load LD_PRELOAD`;
    case "musl":
      return `${r.program} uses musl, whose loader cannot load a glibc ` +
        `interposer`;
    case "unknown-libc":
      return `the C library of ${r.program} is unknown (not found, not an ` +
        `ELF file for this architecture, or an unrecognised PT_INTERP)`;
    case "go":
      return `${r.program} is a Go program, which reads its environment ` +
        `from the initial stack rather than through getenv`;
  }
}

/** The warning logged when `requested` fell back to env. */
export function fallbackWarning(
  requested: RequestedDelivery,
  r: FallbackReason,
): string {
  return `CLOUDTASER_DELIVERY=${requested} falls back to env: ` +
    `${describeFallback(r)}; the secrets are in the app's /proc/<pid>/environ`;
}
