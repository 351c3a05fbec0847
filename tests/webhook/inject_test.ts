/**
 * The webhook's mutation and validation on pod objects, without an API
 * server (tests/k8s/apiserver_test.ts runs the same against a real one).
 */
import assert from "node:assert/strict";
import { mutate, validate } from "../../src/webhook/admission.ts";
import { type InjectOptions, injectPod } from "../../src/webhook/inject.ts";
import type { Container, Pod } from "../../src/webhook/pod.ts";
import { checkPod } from "../../src/webhook/validate.ts";
import { handle } from "../../src/webhook/serve.ts";
import { applyPatch } from "../support/json_patch.ts";

const WRAPPER = "/cloudtaser/cloudtaser-wrapper";
const OPTS: InjectOptions = {
  image: "cloudtaser-wrapper:test",
  defaults: { VAULT_ADDR: "https://vault.default:8200", VAULT_AUTH_ROLE: "x" },
};

function pod(
  annotations: Record<string, string>,
  containers: Container[],
  extra: Record<string, unknown> = {},
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "app", namespace: "team-a", annotations },
    spec: { containers, ...extra },
  };
}

const app: Container = {
  name: "app",
  image: "example/app:1",
  command: ["/app/server"],
  args: ["--port", "8080"],
};

function review(p: Pod, uid = "u-1") {
  return {
    uid,
    kind: { group: "", version: "v1", kind: "Pod" },
    operation: "CREATE",
    namespace: "team-a",
    object: p,
  };
}

/** What the API server stores: the pod with the webhook's patch applied. */
function admitted(p: Pod): Pod {
  const d = mutate(review(p), OPTS);
  assert.equal(d.response.allowed, true, d.detail);
  if (!d.response.patch) return p;
  return applyPatch(p, JSON.parse(atob(d.response.patch))) as Pod;
}

function envOf(c: Container): Record<string, string | undefined> {
  return Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
}

Deno.test("opted-in pod: memory emptyDir, install init container first, command behind the wrapper, env from annotations", () => {
  const p = pod(
    {
      "cloudtaser.io/inject": "true",
      "cloudtaser.io/vault-role": "app",
      "cloudtaser.io/secret-paths": "secret/data/app/db",
      "cloudtaser.io/env-map": "password=DB_PASSWORD",
    },
    [app],
    { initContainers: [{ name: "migrate", image: "m", command: ["/m"] }] },
  );
  const out = admitted(p);
  const spec = out.spec!;
  assert.deepEqual(spec.volumes, [{
    name: "cloudtaser",
    emptyDir: { medium: "Memory", sizeLimit: "256Mi" },
  }]);
  assert.deepEqual(spec.initContainers!.map((c) => c.name), [
    "cloudtaser-install",
    "migrate",
  ]);
  assert.deepEqual(spec.initContainers![0], {
    name: "cloudtaser-install",
    image: "cloudtaser-wrapper:test",
    args: ["install", "/cloudtaser"],
    volumeMounts: [{ name: "cloudtaser", mountPath: "/cloudtaser" }],
  });
  const c = spec.containers![0];
  assert.deepEqual(c.command, [WRAPPER, "--", "/app/server"]);
  assert.deepEqual(c.args, ["--port", "8080"]);
  assert.deepEqual(envOf(c), {
    VAULT_ADDR: "https://vault.default:8200",
    VAULT_AUTH_ROLE: "app", // the annotation over the --set default
    CLOUDTASER_SECRET_PATHS: "secret/data/app/db",
    CLOUDTASER_ENV_MAP: "password=DB_PASSWORD",
  });
  assert.deepEqual(c.volumeMounts, [{
    name: "cloudtaser",
    mountPath: "/cloudtaser",
    readOnly: true,
  }]);
  assert.equal(out.metadata!.annotations!["cloudtaser.io/status"], "injected");
  assert.equal(checkPod(out, OPTS), null);
});

Deno.test("mutating twice changes nothing, also after the API server added its defaults", () => {
  const p = pod({ "cloudtaser.io/inject": "true" }, [app]);
  const once = admitted(p);
  const twice = mutate(review(once), OPTS);
  assert.equal(twice.outcome, "unchanged");
  assert.equal(twice.response.patch, undefined);
  // Defaults the API server adds to what the webhook wrote, and its own
  // key order, must not look like a change.
  const defaulted = structuredClone(once);
  const init = defaulted.spec!.initContainers![0];
  Object.assign(init, {
    imagePullPolicy: "IfNotPresent",
    terminationMessagePath: "/dev/termination-log",
    resources: {},
  });
  init.volumeMounts = [{ mountPath: "/cloudtaser", name: "cloudtaser" }];
  defaulted.spec!.volumes![0].emptyDir = {
    sizeLimit: "256Mi",
    medium: "Memory",
  };
  assert.equal(mutate(review(defaulted), OPTS).outcome, "unchanged");
});

Deno.test("a container without command is refused with what to add, or wrapped from the annotation", () => {
  const bare: Container = { name: "web", image: "nginx" };
  const refused = mutate(
    review(pod({ "cloudtaser.io/inject": "true" }, [bare])),
    OPTS,
  );
  assert.equal(refused.response.allowed, false);
  assert.equal(refused.response.status?.code, 403);
  const msg = refused.response.status!.message;
  assert.match(msg, /container "web" has no command/);
  assert.match(msg, /ENTRYPOINT/);
  assert.match(msg, /cloudtaser\.io\/original-command\.web/);

  const scoped = admitted(pod({
    "cloudtaser.io/inject": "true",
    "cloudtaser.io/original-command.web":
      '["/docker-entrypoint.sh", "nginx", "-g", "daemon off;"]',
  }, [bare]));
  assert.deepEqual(scoped.spec!.containers![0].command, [
    WRAPPER,
    "--",
    "/docker-entrypoint.sh",
    "nginx",
    "-g",
    "daemon off;",
  ]);
  const words = admitted(pod({
    "cloudtaser.io/inject": "true",
    "cloudtaser.io/original-command": "/bin/server --flag 'two words'",
  }, [bare]));
  assert.deepEqual(words.spec!.containers![0].command, [
    WRAPPER,
    "--",
    "/bin/server",
    "--flag",
    "two words",
  ]);
  const bad = mutate(
    review(pod({
      "cloudtaser.io/inject": "true",
      "cloudtaser.io/original-command": "[not json",
    }, [bare])),
    OPTS,
  );
  assert.equal(bad.response.allowed, false);
  assert.match(
    bad.response.status!.message,
    /cloudtaser\.io\/original-command: .*JSON array/,
  );
});

Deno.test("not opted in: no patch; inject=false wins over vault: references", () => {
  const plain = mutate(review(pod({}, [app])), OPTS);
  assert.equal(plain.outcome, "skipped");
  assert.equal(plain.response.patch, undefined);
  const refs: Container = {
    ...app,
    env: [{ name: "DB", value: "vault:secret/data/db#pw" }],
  };
  const out = mutate(
    review(pod({ "cloudtaser.io/inject": "false" }, [refs])),
    OPTS,
  );
  assert.equal(out.outcome, "skipped");
  const bad = mutate(
    review(pod({ "cloudtaser.io/inject": "maybe" }, [app])),
    OPTS,
  );
  assert.equal(bad.response.allowed, false);
  assert.match(
    bad.response.status!.message,
    /cloudtaser\.io\/inject: "maybe" is not true or false/,
  );
});

Deno.test("bank-vaults manifest: only the containers with vault: references are wrapped; its annotations map too", () => {
  const refs: Container = {
    ...app,
    env: [{ name: "DB_PASSWORD", value: "vault:secret/data/app/db#password" }],
  };
  const side: Container = { name: "sidecar", image: "s", command: ["/s"] };
  const out = admitted(pod({
    "vault.security.banzaicloud.io/vault-addr": "https://bao:8200",
    "vault.security.banzaicloud.io/vault-role": "bv-role",
  }, [refs, side]));
  const [a, s] = out.spec!.containers!;
  assert.deepEqual(a.command, [WRAPPER, "--", "/app/server"]);
  assert.equal(envOf(a).VAULT_ADDR, "https://bao:8200");
  assert.equal(envOf(a).VAULT_AUTH_ROLE, "bv-role");
  assert.equal(envOf(a).DB_PASSWORD, "vault:secret/data/app/db#password");
  assert.deepEqual(s, side);
});

Deno.test("cloudtaser.io/containers selects; an unknown name is refused", () => {
  const side: Container = { name: "sidecar", image: "s", command: ["/s"] };
  const out = admitted(pod({
    "cloudtaser.io/inject": "true",
    "cloudtaser.io/containers": "sidecar",
  }, [app, side]));
  assert.deepEqual(out.spec!.containers![0], app);
  assert.deepEqual(out.spec!.containers![1].command, [WRAPPER, "--", "/s"]);
  const bad = mutate(
    review(pod({
      "cloudtaser.io/inject": "true",
      "cloudtaser.io/containers": "nope",
    }, [app])),
    OPTS,
  );
  assert.equal(bad.response.allowed, false);
  assert.match(
    bad.response.status!.message,
    /names "nope", which is not a container/,
  );
});

Deno.test("the container's own env wins over annotations and defaults", () => {
  const own: Container = {
    ...app,
    env: [{ name: "VAULT_ADDR", value: "https://own:8200" }],
  };
  const out = admitted(pod({
    "cloudtaser.io/inject": "true",
    "cloudtaser.io/vault-address": "https://annotation:8200",
  }, [own]));
  const env = out.spec!.containers![0].env!;
  assert.deepEqual(env.filter((e) => e.name === "VAULT_ADDR"), [{
    name: "VAULT_ADDR",
    value: "https://own:8200",
  }]);
});

Deno.test("a value the wrapper would refuse at start is refused at admission, naming the annotation", () => {
  const r = mutate(
    review(pod({
      "cloudtaser.io/inject": "true",
      "cloudtaser.io/vault-auth-method": "password",
    }, [app])),
    OPTS,
  );
  assert.equal(r.response.allowed, false);
  const msg = r.response.status!.message;
  assert.match(msg, /VAULT_AUTH_METHOD="password": expected one of kubernetes/);
  assert.match(msg, /cloudtaser\.io\/vault-auth-method -> VAULT_AUTH_METHOD/);
  const map = mutate(
    review(pod({
      "cloudtaser.io/inject": "true",
      "cloudtaser.io/secret-paths": "secret/data/a",
      "cloudtaser.io/env-map": "x=A;y=B",
    }, [app])),
    OPTS,
  );
  assert.equal(map.response.allowed, false);
  assert.match(map.response.status!.message, /CLOUDTASER_ENV_MAP has 2/);
});

Deno.test("vault-tls-secret mounts the Secret and points VAULT_CACERT/CLIENT_CERT/CLIENT_KEY at it; ebpf mounts the enforcer's directory", () => {
  const out = admitted(pod({
    "cloudtaser.io/inject": "true",
    "cloudtaser.io/vault-tls-secret": "app-vault-tls",
    "cloudtaser.io/ebpf": "true",
  }, [app]));
  const vols = out.spec!.volumes!;
  assert.deepEqual(vols.find((v) => v.name === "cloudtaser-vault-tls"), {
    name: "cloudtaser-vault-tls",
    secret: { secretName: "app-vault-tls" },
  });
  assert.deepEqual(vols.find((v) => v.name === "cloudtaser-enforcer"), {
    name: "cloudtaser-enforcer",
    hostPath: { path: "/run/cloudtaser", type: "Directory" },
  });
  const c = out.spec!.containers![0];
  const env = envOf(c);
  assert.equal(
    env.VAULT_CACERT,
    "/var/run/secrets/cloudtaser/vault-tls/ca.crt",
  );
  assert.equal(
    env.VAULT_CLIENT_CERT,
    "/var/run/secrets/cloudtaser/vault-tls/tls.crt",
  );
  assert.equal(
    env.VAULT_CLIENT_KEY,
    "/var/run/secrets/cloudtaser/vault-tls/tls.key",
  );
  assert.deepEqual(c.volumeMounts!.map((m) => [m.mountPath, m.readOnly]), [
    ["/cloudtaser", true],
    ["/run/cloudtaser", true],
    ["/var/run/secrets/cloudtaser/vault-tls", true],
  ]);
});

Deno.test("exec probes run under the wrapper only when cloudtaser.io/wrap-exec-probes is true", () => {
  const probed: Container = {
    ...app,
    livenessProbe: { exec: { command: ["/bin/check"] }, periodSeconds: 10 },
    readinessProbe: { httpGet: { path: "/", port: 80 } },
  };
  const plain = admitted(pod({ "cloudtaser.io/inject": "true" }, [probed]));
  assert.deepEqual(
    plain.spec!.containers![0].livenessProbe,
    probed.livenessProbe,
  );
  const wrapped = admitted(pod({
    "cloudtaser.io/inject": "true",
    "cloudtaser.io/wrap-exec-probes": "true",
  }, [probed]));
  const c = wrapped.spec!.containers![0];
  assert.deepEqual(c.livenessProbe, {
    exec: { command: [WRAPPER, "--", "/bin/check"] },
    periodSeconds: 10,
  });
  assert.deepEqual(c.readinessProbe, probed.readinessProbe);
});

Deno.test("validate: refuses an opted-in pod that no longer runs the wrapper, or whose wrapper another container can overwrite", () => {
  const good = admitted(pod({ "cloudtaser.io/inject": "true" }, [app]));
  assert.equal(validate(review(good), OPTS).response.allowed, true);

  const stripped = structuredClone(good);
  stripped.spec!.containers![0].command = ["/app/server"];
  const r = validate(review(stripped), OPTS);
  assert.equal(r.response.allowed, false);
  assert.match(
    r.response.status!.message,
    /container "app" does not run the wrapper/,
  );
  assert.match(
    r.response.status!.message,
    /refused rather than started without its protection/,
  );

  const writable = structuredClone(good);
  writable.spec!.containers!.push({
    name: "evil",
    image: "e",
    volumeMounts: [{ name: "cloudtaser", mountPath: "/x" }],
  });
  assert.match(
    validate(review(writable), OPTS).response.status!.message,
    /container "evil" mounts "cloudtaser" writable/,
  );

  const otherImage = structuredClone(good);
  otherImage.spec!.initContainers![0].image = "attacker/wrapper";
  assert.match(
    validate(review(otherImage), OPTS).response.status!.message,
    /first init container is not "cloudtaser-install"/,
  );

  const disk = structuredClone(good);
  disk.spec!.volumes![0].emptyDir = {};
  assert.match(
    validate(review(disk), OPTS).response.status!.message,
    /not a memory-backed emptyDir/,
  );

  // Not opted in: nothing to check.
  assert.equal(validate(review(pod({}, [app])), OPTS).response.allowed, true);
});

Deno.test("HTTP: AdmissionReview v1 in, the same uid and a base64 JSONPatch out; junk gets 400", async () => {
  const body = {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: review(pod({ "cloudtaser.io/inject": "true" }, [app]), "uid-42"),
  };
  const res = await handle(
    new Request("https://webhook/mutate", {
      method: "POST",
      body: JSON.stringify(body),
    }),
    OPTS,
  );
  assert.equal(res.status, 200);
  const out = await res.json();
  assert.equal(out.apiVersion, "admission.k8s.io/v1");
  assert.equal(out.kind, "AdmissionReview");
  assert.equal(out.response.uid, "uid-42");
  assert.equal(out.response.allowed, true);
  assert.equal(out.response.patchType, "JSONPatch");
  const ops = JSON.parse(atob(out.response.patch));
  assert.ok(ops.every((o: { op: string }) => o.op === "add"));
  assert.deepEqual(
    applyPatch(body.request.object, ops),
    injectPod(body.request.object, OPTS).action === "inject"
      ? (injectPod(body.request.object, OPTS) as { pod: Pod }).pod
      : null,
  );
  const junk = await handle(
    new Request("https://webhook/mutate", { method: "POST", body: "{" }),
    OPTS,
  );
  assert.equal(junk.status, 400);
  await junk.body?.cancel();
  const v1beta1 = await handle(
    new Request("https://webhook/validate", {
      method: "POST",
      body: JSON.stringify({ ...body, apiVersion: "admission.k8s.io/v1beta1" }),
    }),
    OPTS,
  );
  assert.equal(v1beta1.status, 400);
  await v1beta1.body?.cancel();
  const health = await handle(new Request("https://webhook/healthz"), OPTS);
  assert.equal(await health.text(), "ok\n");
});
