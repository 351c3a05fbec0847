/** Native bindings: the only module tree that declares native symbols. */
export * from "./shim.ts";
export * from "./syscall_error.ts";
export { nativePath, withMemfd } from "./load.ts";
export * from "./handover.ts";
export * from "./sdk.ts";
export * from "./http.ts";
