/**
 * The enforcer's BPF LSM tier, proven in a VM: scripts/vm/run-lsm-test.sh
 * boots Debian's stock kernel under qemu (TCG) with `bpf` in lsm=, attacks a
 * protected and an unprotected process from root, and decides from the
 * serial log alone (qemu exits 0 even when the guest panics).
 */
import assert from "node:assert/strict";
import { REPO, run } from "./support.ts";

Deno.test({
  name:
    "in a VM with bpf in lsm=, every attack on a protected process gets EPERM and the control is readable",
  ignore: Deno.uid() !== 0,
  async fn() {
    // the script bounds qemu at CLOUDTASER_VM_TIMEOUT (300 s); this bound
    // covers the kernel download and the build on a first run
    const r = await run(`${REPO}scripts/vm/run-lsm-test.sh`, [], 420_000);
    const report = r.stderr.split("\n").filter((l) => l.startsWith("vm-lsm:"))
      .join("\n");
    assert.equal(
      r.code,
      0,
      `${report}\n(serial log: build/vm/serial.log)\n${r.stderr.slice(-2000)}`,
    );
    assert.match(report, /ok {3}bpf is an active LSM/);
    assert.match(report, /ok {3}the enforcer runs the LSM tier/);
    assert.match(report, /ok {3}protected: 16\/16 attacks got EPERM/);
    assert.match(report, /ok {3}protected-child: 16\/16 attacks got EPERM/);
    assert.match(report, /ok {3}control: 16\/16 attacks succeeded/);
    assert.match(
      report,
      /ok {3}after the enforcer exited, every BPF object was freed/,
    );
    assert.match(report, /ok {3}control: a map really held by a process/);
    assert.match(report, /PASSED/);
  },
});
