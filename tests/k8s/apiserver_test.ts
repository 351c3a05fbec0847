/**
 * The webhook behind a real kube-apiserver, registered from the shipped
 * examples/webhook/webhook.yaml with a certificate from make-certs.sh:
 * opted-in pods are stored mutated, everything else as sent, a pod the
 * webhook cannot wrap is refused, a pod that escaped the mutation is refused
 * by the validating check, and with the webhook down no pod is created in
 * an enabled namespace (failurePolicy: Fail).
 */
import assert from "node:assert/strict";
import { mutate } from "../../src/webhook/admission.ts";
import type { Pod } from "../../src/webhook/pod.ts";
import { type KubeCluster, startKubeCluster } from "../support/kube.ts";
import {
  configurationPath,
  makeWebhookCerts,
  registerWebhook,
  startWebhook,
  webhookConfigurations,
  type WebhookProcess,
} from "../support/webhook.ts";

const IMAGE = "localhost/cloudtaser-wrapper:test";
const WRAPPER = "/cloudtaser/cloudtaser-wrapper";
let setup: Promise<{ k: KubeCluster; hook: WebhookProcess; dir: string }>;

function ready() {
  return setup ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "cloudtaser-webhook-" });
    const k = await startKubeCluster();
    await k.namespace("team-a", { "cloudtaser.io/injection": "enabled" });
    await k.namespace("plain");
    // Labelled too: the selector's NotIn keeps it out all the same.
    await k.namespace("kube-system", { "cloudtaser.io/injection": "enabled" });
    const hook = await startWebhook(
      await makeWebhookCerts(`${dir}/certs`),
      IMAGE,
      [
        "--set=VAULT_ADDR=https://openbao.openbao.svc:8200",
      ],
    );
    await registerWebhook(k, hook);
    await untilMutated(k);
    return { k, hook, dir };
  })();
}

function appPod(
  name: string,
  annotations: Record<string, string> = { "cloudtaser.io/inject": "true" },
  command: string[] | null = ["/app/server", "--port", "8080"],
): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, annotations },
    spec: {
      containers: [{
        name: "app",
        image: "example/app:1",
        ...(command ? { command } : {}),
      }],
    },
  };
}

async function create(k: KubeCluster, ns: string, pod: Pod, dryRun = false) {
  return await k.api(
    "POST",
    `/api/v1/namespaces/${ns}/pods${dryRun ? "?dryRun=All" : ""}`,
    pod,
  );
}

/** The API server loads webhook configurations asynchronously: poll. */
async function until(
  what: string,
  probe: () => Promise<boolean>,
  ms = 30000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function untilMutated(k: KubeCluster) {
  return until("the webhook mutates pods", async () => {
    const r = await create(k, "team-a", appPod("probe"), true);
    return r.status === 201 &&
      r.json.spec.containers[0].command[0] === WRAPPER;
  });
}

Deno.test("an opted-in pod is stored mutated, and the stored pod mutated again is unchanged", async () => {
  const { k } = await ready();
  const r = await create(
    k,
    "team-a",
    appPod("app-1", {
      "cloudtaser.io/inject": "true",
      "cloudtaser.io/vault-role": "app",
      "cloudtaser.io/secret-paths": "secret/data/team-a/db",
    }),
  );
  assert.equal(r.status, 201, JSON.stringify(r.json));
  const stored: Pod =
    (await k.must("GET", "/api/v1/namespaces/team-a/pods/app-1")).json;
  const spec = stored.spec!;
  assert.deepEqual(spec.containers![0].command, [
    WRAPPER,
    "--",
    "/app/server",
    "--port",
    "8080",
  ]);
  const env = Object.fromEntries(
    spec.containers![0].env!.map((e) => [e.name, e.value]),
  );
  assert.equal(env.VAULT_ADDR, "https://openbao.openbao.svc:8200");
  assert.equal(env.VAULT_AUTH_ROLE, "app");
  assert.equal(env.CLOUDTASER_SECRET_PATHS, "secret/data/team-a/db");
  assert.equal(spec.initContainers![0].name, "cloudtaser-install");
  assert.equal(spec.initContainers![0].image, IMAGE);
  assert.deepEqual(spec.initContainers![0].args, ["install", "/cloudtaser"]);
  const vol = spec.volumes!.find((v) => v.name === "cloudtaser");
  assert.equal(vol?.emptyDir?.medium, "Memory");
  // The API server defaulted what the webhook wrote (imagePullPolicy, ...);
  // a second pass must still see nothing to do.
  assert.ok(spec.initContainers![0].imagePullPolicy, "defaults were added");
  const again = mutate({
    uid: "again",
    kind: { group: "", version: "v1", kind: "Pod" },
    operation: "CREATE",
    namespace: "team-a",
    object: stored,
  }, {
    image: IMAGE,
    defaults: { VAULT_ADDR: "https://openbao.openbao.svc:8200" },
  });
  assert.equal(again.outcome, "unchanged");
});

Deno.test("examples/webhook/app-pod.yaml, created with kubectl, comes back wrapped with its annotations as variables", async () => {
  const { k } = await ready();
  await k.serviceAccount("team-a", "app");
  const out = await k.kubectl([
    "create",
    "--dry-run=server",
    "-o",
    "json",
    "-f",
    new URL("../../examples/webhook/app-pod.yaml", import.meta.url).pathname,
  ]);
  const dec = new TextDecoder();
  assert.ok(out.success, dec.decode(out.stderr));
  const pod: Pod = JSON.parse(dec.decode(out.stdout));
  const c = pod.spec!.containers![0];
  assert.deepEqual(c.command, [WRAPPER, "--", "/app/server"]);
  assert.deepEqual(c.args, ["--port", "8080"]);
  const env = Object.fromEntries(c.env!.map((e) => [e.name, e.value]));
  assert.deepEqual(env, {
    VAULT_ADDR: "https://openbao.openbao.svc:8200",
    VAULT_AUTH_ROLE: "app",
    CLOUDTASER_SECRET_PATHS: "secret/data/team-a/db,secret/data/team-a/api",
    CLOUDTASER_ENV_MAP: "username=DB_USER,password=DB_PASSWORD;key=API_KEY",
    CLOUDTASER_REQUIRE_MEMFD_SECRET: "true",
    VAULT_CACERT: "/var/run/secrets/cloudtaser/vault-tls/ca.crt",
    VAULT_CLIENT_CERT: "/var/run/secrets/cloudtaser/vault-tls/tls.crt",
    VAULT_CLIENT_KEY: "/var/run/secrets/cloudtaser/vault-tls/tls.key",
  });
  assert.deepEqual(
    pod.spec!.volumes!.map((v) => v.name).filter((n) =>
      n.startsWith("cloudtaser")
    ),
    ["cloudtaser", "cloudtaser-vault-tls"],
  );
});

Deno.test("pods that did not opt in, pods in other namespaces and in kube-system are stored as sent", async () => {
  const { k } = await ready();
  for (
    const [ns, pod] of [
      ["team-a", appPod("plain-1", {})],
      ["plain", appPod("app-2")],
      ["kube-system", appPod("app-3")],
    ] as const
  ) {
    const r = await create(k, ns, pod);
    assert.equal(r.status, 201, `${ns}: ${JSON.stringify(r.json)}`);
    assert.deepEqual(
      r.json.spec.containers[0].command,
      pod.spec!.containers![0].command,
      ns,
    );
    assert.equal(r.json.spec.initContainers, undefined, ns);
  }
});

Deno.test("an opted-in container without command is refused with what to add; with the annotation it is wrapped", async () => {
  const { k } = await ready();
  const r = await create(k, "team-a", appPod("nocmd", undefined, null));
  assert.equal(r.status, 403, JSON.stringify(r.json));
  assert.match(
    r.json.message,
    /admission webhook "inject\.cloudtaser\.io" denied the request: cloudtaser: container "app" has no command/,
  );
  assert.match(r.json.message, /cloudtaser\.io\/original-command\.app/);
  const ok = await create(
    k,
    "team-a",
    appPod("withcmd", {
      "cloudtaser.io/inject": "true",
      "cloudtaser.io/original-command.app": '["/entrypoint.sh", "serve"]',
    }, null),
  );
  assert.equal(ok.status, 201, JSON.stringify(ok.json));
  assert.deepEqual(ok.json.spec.containers[0].command, [
    WRAPPER,
    "--",
    "/entrypoint.sh",
    "serve",
  ]);
});

Deno.test("a later webhook that strips the wrapper: the pod is not stored without it", async () => {
  const { k, hook } = await ready();
  // A second mutating webhook, called after cloudtaser's (names sort), that
  // puts the original command back for pods labelled strip=yes.
  const ca = await Deno.readTextFile(`${hook.certDir}/ca.crt`);
  const stripper = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(`${hook.certDir}/tls.crt`),
    key: await Deno.readTextFile(`${hook.certDir}/tls.key`),
    onListen: () => {},
  }, async (req) => {
    const review = await req.json();
    const pod = review.request.object;
    const cmd: string[] = pod.spec.containers[0].command;
    const patch = cmd[0] === WRAPPER
      ? [{
        op: "replace",
        path: "/spec/containers/0/command",
        value: cmd.slice(2),
      }]
      : [];
    return Response.json({
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      response: {
        uid: review.request.uid,
        allowed: true,
        patchType: "JSONPatch",
        patch: btoa(JSON.stringify(patch)),
      },
    });
  });
  const cfg = {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: "zz-strip" },
    webhooks: [{
      name: "strip.test.local",
      admissionReviewVersions: ["v1"],
      sideEffects: "None",
      failurePolicy: "Fail",
      reinvocationPolicy: "IfNeeded",
      clientConfig: {
        url: `https://127.0.0.1:${stripper.addr.port}/`,
        caBundle: btoa(ca),
      },
      rules: [{
        operations: ["CREATE"],
        apiGroups: [""],
        apiVersions: ["v1"],
        resources: ["pods"],
      }],
      objectSelector: { matchLabels: { strip: "yes" } },
    }],
  };
  await k.must("POST", configurationPath(cfg.kind), cfg);
  try {
    const pod = appPod("stripped");
    pod.metadata!.labels = { strip: "yes" };
    let last = { status: 0, json: null as unknown };
    await until("the stripping webhook is active", async () => {
      last = await create(k, "team-a", pod, true);
      return last.status !== 201 ||
        (last.json as Pod).spec!.containers![0].command![0] !== WRAPPER;
    });
    const msg = JSON.stringify(last.json);
    assert.equal(last.status, 403, msg);
    assert.match(
      msg,
      /admission webhook \\"check\.cloudtaser\.io\\" denied the request: cloudtaser: this pod opted in to the wrapper, but container \\"app\\" does not run the wrapper/,
    );
  } finally {
    await k.must("DELETE", configurationPath(cfg.kind, "zz-strip"));
    await stripper.shutdown();
  }
});

Deno.test("without the mutating configuration, the validating check refuses an opted-in pod and admits the others", async () => {
  const { k, hook } = await ready();
  const [mutating] = (await webhookConfigurations(k, hook.certDir, hook.port))
    .filter((c) => c.kind === "MutatingWebhookConfiguration");
  await k.must(
    "DELETE",
    configurationPath(mutating.kind, mutating.metadata.name),
  );
  try {
    let last = { status: 0, json: null as unknown };
    await until("the mutating webhook is gone", async () => {
      last = await create(k, "team-a", appPod("unmutated"), true);
      return last.status !== 201 ||
        (last.json as Pod).spec!.containers![0].command![0] !== WRAPPER;
    });
    assert.equal(last.status, 403, JSON.stringify(last.json));
    assert.match(
      (last.json as { message: string }).message,
      /check\.cloudtaser\.io" denied the request: .*volume "cloudtaser" is missing; the first init container is not "cloudtaser-install"/,
    );
    const plain = await create(k, "team-a", appPod("plain-2", {}), true);
    assert.equal(plain.status, 201, JSON.stringify(plain.json));
  } finally {
    await k.must("POST", configurationPath(mutating.kind), mutating);
    await untilMutated(k);
  }
});

Deno.test("with the webhook stopped, no pod is created in an enabled namespace (failurePolicy: Fail); other namespaces are unaffected", async () => {
  const { k, hook, dir } = await ready();
  try {
    assert.equal(await hook.stop(), 0, hook.output());
    for (const pod of [appPod("down-1"), appPod("down-2", {})]) {
      const r = await create(k, "team-a", pod);
      assert.equal(r.status, 500, JSON.stringify(r.json));
      assert.match(
        r.json.message,
        /failed calling webhook "(inject|check)\.cloudtaser\.io"/,
      );
      const gone = await k.api(
        "GET",
        `/api/v1/namespaces/team-a/pods/${pod.metadata!.name}`,
      );
      assert.equal(gone.status, 404);
    }
    const elsewhere = await create(k, "plain", appPod("up-1"));
    assert.equal(elsewhere.status, 201, JSON.stringify(elsewhere.json));
    // The webhook logged its decisions.
    assert.match(hook.output(), /"mutate: injected"/);
  } finally {
    await hook.stop();
    await k.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
