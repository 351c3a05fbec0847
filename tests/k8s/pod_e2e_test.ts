/**
 * End to end without a kubelet: a pod is created through the real API
 * server, the webhook mutates it, and what the stored pod says is run with
 * podman (tests/support/pod_runner.ts): the init container installs the
 * wrapper from the wrapper image into the memory-backed volume, then the app
 * container runs it, which logs in to OpenBao over mTLS with kubernetes auth
 * (the pod's projected service-account token, checked by TokenReview) and
 * starts the app with its secret.
 */
import assert from "node:assert/strict";
import { enableKubernetesAuth } from "../support/openbao/kubernetes_auth.ts";
import type { Pod } from "../../src/webhook/pod.ts";
import { buildWrapperImage, wrapperImageKind } from "../support/images.ts";
import { type KubeCluster, startKubeCluster } from "../support/kube.ts";
import { randomMarker, sha256Hex } from "../support/markers.ts";
import { put, sharedServer } from "../support/openbao/mod.ts";
import { type Container, Podman } from "../support/podman.ts";
import { runPod } from "../support/pod_runner.ts";
import {
  freePort,
  makeWebhookCerts,
  manifestObjects,
  registerWebhook,
} from "../support/webhook.ts";

const { server, stop } = sharedServer();
const SECRET = randomMarker("CTK", "e2e", 12);
const WRAPPER_IMAGE = "localhost/cloudtaser-wrapper:e2e";
const APP_IMAGE = "localhost/cloudtaser-e2e-app:test";
/** Which wrapper the image holds (tests/support/images.ts), for the name. */
const WRAPPER_KIND = wrapperImageKind().note;

/** A FROM scratch app image: a static busybox for sh, printf and sha256sum. */
async function buildBusyboxImage(podman: Podman): Promise<string> {
  const ctx = await Deno.makeTempDir({ prefix: "ct-e2e-app-" });
  try {
    await Deno.mkdir(`${ctx}/bin`);
    await Deno.copyFile("/bin/busybox", `${ctx}/bin/busybox`);
    await podman.build(
      APP_IMAGE,
      ctx,
      "FROM scratch\nCOPY bin/busybox /bin/busybox\n" +
        'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n',
    );
    return APP_IMAGE;
  } finally {
    await Deno.remove(ctx, { recursive: true });
  }
}

async function reviewer(k: KubeCluster): Promise<string> {
  await k.namespace("openbao");
  await k.serviceAccount("openbao", "reviewer");
  await k.must(
    "POST",
    "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "openbao-reviewer" },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "system:auth-delegator",
      },
      subjects: [{
        kind: "ServiceAccount",
        name: "reviewer",
        namespace: "openbao",
      }],
    },
  );
  return await k.token("openbao", "reviewer");
}

const b64 = async (path: string) => btoa(await Deno.readTextFile(path));

Deno.test(`a pod created through the API server runs with its secret (${WRAPPER_KIND}): install init container, then the app behind the wrapper, over mTLS with kubernetes auth; with the webhook stopped it is not created`, async () => {
  const dir = await Deno.makeTempDir({ prefix: "cloudtaser-e2e-" });
  const podman = await Podman.open();
  let k: KubeCluster | undefined;
  let hook: Container | undefined;
  try {
    const [cluster, bao, wrapperImage] = await Promise.all([
      startKubeCluster(),
      server(),
      buildWrapperImage(podman, WRAPPER_IMAGE),
      buildBusyboxImage(podman),
    ]);
    k = cluster;
    assert.equal(wrapperImage.note, WRAPPER_KIND);
    await k.namespace("team-a", { "cloudtaser.io/injection": "enabled" });
    await k.serviceAccount("team-a", "app");
    await enableKubernetesAuth(bao, {
      host: k.server,
      caPem: k.caPem,
      reviewerJwt: await reviewer(k),
      roles: [{
        name: "app",
        serviceAccounts: ["app"],
        namespaces: ["team-a"],
      }],
    });
    await put(bao, "secret/data/team-a/db", { password: SECRET });
    // The client certificate for mTLS reaches the pod as a Secret volume
    // (cloudtaser.io/vault-tls-secret).
    await k.must("POST", "/api/v1/namespaces/team-a/secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "app-vault-tls" },
      data: {
        "ca.crt": await b64(bao.caCert),
        "tls.crt": await b64(bao.clientCert),
        "tls.key": await b64(bao.clientKey),
      },
    });
    // The webhook runs from the wrapper image as the shipped Deployment
    // runs it: its args and securityContext, the serving certificate as a
    // Secret volume would hold it (0644), host network on a free port.
    const certDir = await makeWebhookCerts(`${dir}/certs`);
    const tls = `${dir}/tls`;
    await Deno.mkdir(tls);
    for (const f of ["tls.crt", "tls.key"]) {
      await Deno.copyFile(`${certDir}/${f}`, `${tls}/${f}`);
      await Deno.chmod(`${tls}/${f}`, 0o644);
    }
    const deployment = (await manifestObjects(k, certDir))
      .find((o) => o.kind === "Deployment");
    const spec = deployment.spec.template.spec;
    const c = spec.containers[0];
    const port = freePort();
    const args = (c.args as string[]).map((a) =>
      a.startsWith("--image=")
        ? `--image=${WRAPPER_IMAGE}`
        : a.startsWith("--port=")
        ? `--port=${port}`
        : a.startsWith("--set=VAULT_ADDR=")
        ? `--set=VAULT_ADDR=${bao.addr}`
        : a
    );
    hook = await podman.start({
      image: WRAPPER_IMAGE,
      command: args,
      user: String(spec.securityContext.runAsUser),
      readOnly: c.securityContext.readOnlyRootFilesystem,
      capDrop: c.securityContext.capabilities.drop,
      noNewPrivileges: c.securityContext.allowPrivilegeEscalation === false,
      mounts: [{
        source: tls,
        target: c.volumeMounts[0].mountPath,
        readOnly: true,
      }],
      network: "host",
    });
    await hook.waitForLog(/"listening"/);
    await registerWebhook(k, { certDir, port });

    const pod: Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "app",
        annotations: {
          "cloudtaser.io/inject": "true",
          "cloudtaser.io/vault-role": "app",
          "cloudtaser.io/secret-paths": "secret/data/team-a/db",
          "cloudtaser.io/env-map": "password=DB_PASSWORD",
          "cloudtaser.io/vault-tls-secret": "app-vault-tls",
        },
      },
      spec: {
        serviceAccountName: "app",
        // Restricted, as examples/pod.yaml: the install init container and
        // the app run as uid 65534 with a read-only root and no capabilities.
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65534,
          runAsGroup: 65534,
          seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [{
          name: "app",
          image: "example/app:1",
          command: ["/bin/sh", "-c"],
          args: [
            'printf %s "$DB_PASSWORD" | sha256sum; ' +
            'echo "config vars: $(env | grep -c -E "^(VAULT|CLOUDTASER)_")"',
          ],
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
        }],
      },
    };
    // The API server loads the webhook configuration asynchronously.
    let created;
    for (let i = 0; i < 100; i++) {
      created = await k.api("POST", "/api/v1/namespaces/team-a/pods", pod);
      if (created.status !== 201) break;
      if (
        created.json.spec.initContainers?.[0]?.name === "cloudtaser-install"
      ) {
        break;
      }
      await k.must(
        "DELETE",
        "/api/v1/namespaces/team-a/pods/app?gracePeriodSeconds=0",
      );
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(created?.status, 201, JSON.stringify(created?.json));
    const stored: Pod =
      (await k.must("GET", "/api/v1/namespaces/team-a/pods/app")).json;
    assert.equal(stored.spec!.initContainers![0].name, "cloudtaser-install");

    const run = await runPod({
      cluster: k,
      pod: stored,
      engine: podman.runToEnd,
      images: { "example/app:1": APP_IMAGE },
    });
    assert.deepEqual(run.init.map((c) => [c.name, c.code]), [[
      "cloudtaser-install",
      0,
    ]], JSON.stringify(run.init));
    const [app] = run.containers;
    assert.equal(app.code, 0, app.stderr);
    const lines = app.stdout.trim().split("\n");
    assert.equal(lines[0].split(" ")[0], await sha256Hex(SECRET), app.stderr);
    assert.equal(
      lines[1],
      "config vars: 0",
      "the app sees no wrapper configuration",
    );
    assert.match(app.stderr, /starting \/bin\/sh/);
    for (const c of [...run.init, ...run.containers]) {
      assert.ok(
        !(c.stdout + c.stderr).includes(SECRET),
        `${c.name}: no secret in output`,
      );
    }

    // With the webhook stopped, the same pod is not created at all.
    await hook.stop();
    assert.equal(await hook.wait(), 0, JSON.stringify(await hook.logs()));
    const down = await k.api("POST", "/api/v1/namespaces/team-a/pods", {
      ...pod,
      metadata: { ...pod.metadata, name: "app-2" },
    });
    assert.equal(down.status, 500, JSON.stringify(down.json));
    assert.match(
      down.json.message,
      /failed calling webhook "inject\.cloudtaser\.io"/,
    );
  } finally {
    await k?.stop();
    await stop();
    await podman.close();
    await Deno.remove(dir, { recursive: true });
  }
});
