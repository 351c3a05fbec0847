import assert from "node:assert/strict";
import type { Facts } from "../../src/score/facts.ts";
import { formatScore, missing, scoreFacts } from "../../src/score/score.ts";
import type { Vma } from "../../src/protect/smaps.ts";

const vma = (
  start: number,
  end: number,
  perms: string,
  path: string,
  flags: string[] = [],
): Vma => ({
  start: BigInt(start),
  end: BigInt(end),
  perms,
  path,
  flags: new Set(flags),
});

const best: Facts = {
  guardBefore: vma(0x1000, 0x2000, "---p", ""),
  region: vma(0x2000, 0x4000, "rw-s", "/secretmem (deleted)", ["lo", "dd"]),
  guardAfter: vma(0x4000, 0x5000, "---p", ""),
  canaryIntact: true,
  dumpable: false,
  appCoreLimit: { soft: 1n, hard: 1n },
  tokenProtected: true,
  tokenRevoked: true,
  environClean: true,
  interposer: true,
  enforcer: { connected: true, mode: "enforce", lsm: true },
  cpuVulnerable: [],
  confidentialVm: "sev-snp",
  skipVerify: false,
};

Deno.test("every check of DESIGN.md's table, token_revoked and app_core_limit, 135 points when all hold", () => {
  const s = scoreFacts(best);
  assert.deepEqual(
    s.checks.map((c) => [c.name, c.max]),
    [
      ["memfd_secret", 15],
      ["mlock", 10],
      ["core_dump_exclusion", 5],
      ["dumpable_disabled", 5],
      ["token_protected", 10],
      ["token_revoked", 5],
      ["environ_scrubbed", 5],
      ["getenv_interposer", 10],
      ["ebpf_agent_connected", 10],
      ["ebpf_enforce_mode", 15],
      ["ebpf_lsm", 15],
      ["cpu_mitigations", 5],
      ["confidential_vm", 10],
      ["guard_pages", 5],
      ["buffer_canary", 5],
      ["app_core_limit", 5],
    ],
  );
  assert.equal(s.total, 135);
  assert.equal(s.max, 135);
  assert.deepEqual(missing(s), []);
});

Deno.test("each fact removed costs exactly its check", () => {
  const cases: Array<[Partial<Facts>, string, number]> = [
    [
      {
        region: vma(
          0x2000,
          0x4000,
          "rw-s",
          "/memfd:cloudtaser-secrets (deleted)",
          ["lo", "dd"],
        ),
      },
      "memfd_secret",
      15,
    ],
    [
      { region: vma(0x2000, 0x4000, "rw-s", "/secretmem (deleted)", ["dd"]) },
      "mlock",
      10,
    ],
    [
      { region: vma(0x2000, 0x4000, "rw-s", "/secretmem (deleted)", ["lo"]) },
      "core_dump_exclusion",
      5,
    ],
    [{ dumpable: true }, "dumpable_disabled", 5],
    [{ tokenProtected: false }, "token_protected", 10],
    [{ tokenRevoked: false }, "token_revoked", 5],
    [{ environClean: false }, "environ_scrubbed", 5],
    [{ interposer: false }, "getenv_interposer", 10],
    [
      { enforcer: { connected: true, mode: "detect", lsm: true } },
      "ebpf_enforce_mode",
      15,
    ],
    [
      { enforcer: { connected: true, mode: "enforce", lsm: false } },
      "ebpf_lsm",
      15,
    ],
    [{ cpuVulnerable: ["spectre_v1"] }, "cpu_mitigations", 5],
    [{ confidentialVm: null }, "confidential_vm", 10],
    [{ guardAfter: vma(0x4000, 0x5000, "rw-p", "") }, "guard_pages", 5],
    [{ guardBefore: null }, "guard_pages", 5],
    [{ canaryIntact: false }, "buffer_canary", 5],
    [{ appCoreLimit: { soft: 0n, hard: 0n } }, "app_core_limit", 5],
    [{ appCoreLimit: { soft: 0n, hard: 1n } }, "app_core_limit", 5],
    [
      { appCoreLimit: { soft: 0n, hard: 0xffff_ffff_ffff_ffffn } },
      "app_core_limit",
      5,
    ],
    [{ appCoreLimit: null }, "app_core_limit", 5],
  ];
  for (const [change, name, lost] of cases) {
    const s = scoreFacts({ ...best, ...change });
    assert.deepEqual(missing(s), [name], Object.keys(change).join());
    assert.equal(s.total, 135 - lost, name);
  }
  const none = scoreFacts({ ...best, enforcer: { connected: false } });
  assert.deepEqual(missing(none), [
    "ebpf_agent_connected",
    "ebpf_enforce_mode",
    "ebpf_lsm",
  ]);
});

Deno.test("VAULT_SKIP_VERIFY costs 10 points and shows as its own row", () => {
  const s = scoreFacts({ ...best, skipVerify: true });
  assert.equal(s.total, 125);
  assert.match(formatScore(s), /MISS tls_verification\s+-10\/0/);
  assert.match(formatScore(s), /protection score: 125\/135$/);
});

Deno.test("token_revoked with a token kept for refresh: scored for revocation at exit, and the row says which", () => {
  const atExit = scoreFacts({ ...best, tokenRevokedAtExit: true });
  assert.equal(atExit.total, 135);
  assert.match(
    formatScore(atExit),
    /token_revoked .*token and leases revoked at exit/,
  );
  const kept = scoreFacts({
    ...best,
    tokenRevoked: false,
    tokenRevokedAtExit: true,
  });
  assert.deepEqual(missing(kept), ["token_revoked"]);
  assert.match(formatScore(kept), /CLOUDTASER_REVOKE_ON_EXIT=false/);
  assert.match(formatScore(scoreFacts(best)), /revoked before the app started/);
});
