/** Delivery of secrets to the app: target inspection and the mode choice. */
export * from "./choose.ts";
export * from "./elf.ts";
export * from "./region_flags.ts";
