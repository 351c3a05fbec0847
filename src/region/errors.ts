/**
 * The region could not be set up as the configuration demands
 * (a strict mode, or a record that cannot be stored). The message names the
 * kernel feature, capability or key; it never holds a secret value.
 */
export class RegionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RegionError";
  }
}
