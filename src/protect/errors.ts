/**
 * A protection the configuration demands is missing: a strict mode
 * (`CLOUDTASER_REQUIRE_MEMFD_SECRET`, `CLOUDTASER_REQUIRE_MLOCK`), a score
 * below `CLOUDTASER_MIN_SCORE`, or `CLOUDTASER_DELIVERY=interposer` for a
 * program the interposer cannot serve. The start stops with exit 3
 * (`EXIT.PROTECTION_MISSING`). The message names the setting and what the
 * node lacks; it never holds a secret value.
 */
export class ProtectionMissingError extends Error {
  /**
   * Makes the error.
   *
   * @param message names the setting and what is missing
   */
  constructor(message: string) {
    super(message);
    this.name = "ProtectionMissingError";
  }
}
