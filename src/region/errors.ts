/**
 * A record cannot be stored (an invalid or duplicate key, a value with a
 * NUL byte, a region larger than the kernel maps). The message names the key
 * or the size; it never holds a secret value. A missing protection the
 * configuration demands is a ProtectionMissingError (src/protect/errors.ts).
 */
export class RegionError extends Error {
  /**
   * Makes the error.
   *
   * @param message names the key or the size, never a value
   */
  constructor(message: string) {
    super(message);
    this.name = "RegionError";
  }
}
