/** `cloudtaser-wrapper webhook`: its flags fail closed before it serves. */
import assert from "node:assert/strict";
import { wrapper } from "../support/wrapper.ts";

const env = { PATH: "/usr/bin:/bin" };

Deno.test("webhook --help prints its usage", async () => {
  const r = await wrapper(["webhook", "--help"], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /cloudtaser-wrapper webhook --tls-cert FILE/);
});

Deno.test("webhook refuses bad flags with exit 2, naming the flag", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["--tls-cert=/x", "--tls-key=/y"], /webhook needs --image IMAGE/],
    [["--image=i", "--tls-key=/y"], /webhook needs --tls-cert FILE/],
    [
      ["--image=i", "--tls-cert=/no/such", "--tls-key=/y"],
      /--tls-cert \/no\/such cannot be read/,
    ],
    [
      ["--image=i", "--set=VAULT_TOKEN=s.abc"],
      /--set VAULT_TOKEN: a credential does not belong in a pod spec/,
    ],
    [
      ["--image=i", "--set=NOT_A_SETTING=1"],
      /--set NOT_A_SETTING: expected VAR=VALUE/,
    ],
    [
      ["--image=i", "--set=VAULT_AUTH_METHOD=password"],
      /--set: VAULT_AUTH_METHOD=\\?"password\\?": expected one of/,
    ],
    [["--image=i", "--port=70000"], /--port 70000: expected 0-65535/],
    [["--image=i", "--bogus"], /webhook: Unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = await wrapper(["webhook", ...args], env);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, re, args.join(" "));
    assert.ok(!r.stderr.includes("s.abc"), "the credential is not echoed");
  }
});
