/**
 * The secret region's byte layout: the contract shared by the wrapper, the
 * supervisor, the getenv interposer and the SDKs (`c/sdk/cloudtaser.h`).
 *
 * ```text
 *  guard page   data pages (the memfd, mapped MAP_SHARED)                   guard page
 * +----------+--------------------------------------------------------------+----------+
 * | PROT_NONE| header (48) | KEY=VALUE\0 KEY=VALUE\0 ... | zeros | canary 16 | PROT_NONE|
 * +----------+--------------------------------------------------------------+----------+
 *            ^ offset 0 of the fd                                            ^ size
 * ```
 *
 * Header, little-endian:
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 8 | magic `CTREGN01` |
 * | 8 | 4 | records offset (48) |
 * | 12 | 4 | records length in bytes |
 * | 16 | 4 | record count |
 * | 20 | 4 | data size (the fd's size, a page multiple) |
 * | 24 | 4 | generation: 0 as written, odd while the supervisor writes new records in place, even after (docs/refresh.md) |
 * | 28 | 4 | flags: the wrapper's policy for the readers (below) |
 * | 32 | 16 | canary copy |
 *
 * The canary's second copy ends the data pages, against the trailing guard
 * page: a write that runs past the records but stays inside the mapping breaks
 * it (found when the region is wiped), one that leaves the mapping faults.
 */
export const MAGIC = new TextEncoder().encode("CTREGN01");
export const HEADER_SIZE = 48;
export const CANARY_SIZE = 16;
export const OFF_RECORDS_OFFSET = 8;
export const OFF_RECORDS_LENGTH = 12;
export const OFF_RECORD_COUNT = 16;
export const OFF_DATA_SIZE = 20;
/** The generation seqlock of in-place changes (docs/refresh.md). */
export const OFF_GENERATION = 24;
export const OFF_FLAGS = 28;
export const OFF_CANARY = 32;

/**
 * Flag bits at {@link OFF_FLAGS}. Readers that predate them read a zero
 * reserved field, which is the strict default for each.
 */
export const FLAGS = {
  /**
   * `CLOUDTASER_CHILD_ENV_FALLBACK`: a program the app starts that cannot
   * load the interposer (static, musl, Go, set-id) gets its secrets in its
   * environment; without the bit that exec fails with EPERM.
   */
  CHILD_ENV_FALLBACK: 1 << 0,
  /**
   * `CLOUDTASER_APP_CORE_DUMPS`: the supervisor leaves the app the
   * `RLIMIT_CORE` it inherited; without the bit the app gets 1/1.
   */
  APP_CORE_DUMPS: 1 << 1,
  /**
   * `CLOUDTASER_ALLOW_TRACER`: the supervisor and the interposer go on with
   * a tracer attached (debugging); without the bit they refuse to start.
   */
  ALLOW_TRACER: 1 << 2,
} as const;
