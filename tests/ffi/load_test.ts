/**
 * The loader's fallback for `deno compile` binaries, where the embedded
 * library is not a real file: loading it from a memfd copy must work.
 */
import assert from "node:assert/strict";
import { dlopenBytes, nativePath } from "../../ffi/load.ts";
import { memfdSecret, SyscallError } from "../../ffi/mod.ts";
import { fdTargets } from "../support/proc.ts";

Deno.test("the shim loads from a memfd copy and its calls work", () => {
  const bytes = Deno.readFileSync(nativePath("libcloudtaser_shim.so"));
  const lib = dlopenBytes(
    "libcloudtaser_shim.so",
    bytes,
    {
      ct_page_size: { parameters: [], result: "i32" },
    } as const,
  );
  try {
    assert.equal(lib.symbols.ct_page_size(), 4096);
  } finally {
    lib.close();
  }
  // The memfd was closed after loading: no fd of ours points at a memfd.
  const fds = [...fdTargets("self").values()];
  assert.ok(
    !fds.some((t) => t.includes("memfd:libcloudtaser_shim")),
    fds.join(" "),
  );
});

Deno.test("a failed call is a SyscallError naming the call and the errno", () => {
  // memfd_secret with an invalid flag: EINVAL from the kernel.
  assert.throws(
    () => memfdSecret(0x40),
    (e: unknown) =>
      e instanceof SyscallError && e.syscall === "memfd_secret" &&
      e.code === "EINVAL" &&
      e.errno === 22 && e.message === "memfd_secret failed: EINVAL",
  );
});
