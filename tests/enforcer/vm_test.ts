/**
 * The enforcer's BPF LSM tier, proven in a VM: scripts/vm/run-lsm-test.sh
 * boots Debian's stock kernel under qemu (TCG) with `bpf` in lsm=, attacks a
 * protected and an unprotected process from root, and decides from the
 * serial log alone (qemu exits 0 even when the guest panics).
 */
import assert from "node:assert/strict";
import { REPO, run } from "../support/enforcer.ts";

Deno.test({
  name:
    "in a VM with bpf in lsm=, every attack on a protected process gets EPERM (the start-up window's pidfd_getfd loop too), the control works, protection outlives the daemon",
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
    for (
      const line of [
        "protected: 22/22 attacks got EPERM",
        "protected-child: 20/20 attacks got EPERM",
        "protected-thread: 6/6 attacks got EPERM",
        "control: 20/20 attacks succeeded",
        "control: the same loop stole the unregistered target's region fd and read the secret",
        "control-thread: 6/6 attacks succeeded",
        "control: a tp_btf program and a perf stack sample read the secret",
        "while something is protected, tracing BPF is refused",
        "stop and core signals to the protected process: 10/10 refused, 10/10 left it running",
        "kill -9 of the daemon: 5/5 attacks still got EPERM, 16 pins stayed",
        "a restarted daemon adopted the pins and both registrations",
        "after --uninstall, every BPF object was freed",
        "control: a map really held by a process",
      ]
    ) {
      assert.ok(report.includes(`ok   ${line}`), `missing: ${line}\n${report}`);
    }
    // The start-up window under LSM: a loop of pidfd_getfd from before
    // the region existed got only EPERM (its count of tries is measured).
    assert.match(
      report,
      /ok {3}start-up window: registered before its memfd_secret, (\d+)\/\1 pidfd_getfd tries got EPERM, 0 stole an fd/,
    );
    assert.match(report, /PASSED/);
  },
});
