/**
 * Test certificates made with the `openssl` CLI: a CA, a server certificate
 * for the loopback addresses, a client certificate from the same CA, and a
 * second, untrusted CA with a client certificate of its own. EC P-256 keys,
 * PEM (PKCS#8), valid for a few days: everything is thrown away after a run.
 *
 * ```
 *   ca.pem ──┬── server.pem   127.0.0.1, ::1, localhost   (serverAuth)
 *            └── client.pem   CN=cloudtaser-app            (clientAuth)
 *   untrusted-ca.pem ── untrusted.pem  CN=cloudtaser-app   (clientAuth)
 * ```
 */

/** Paths of the generated files, all inside `dir`. */
export interface TestCerts {
  /** The directory holding every file (mode 0700). */
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  /** Client certificate signed by `caCert`. */
  clientCert: string;
  clientKey: string;
  untrustedCaCert: string;
  /** Client certificate signed by `untrustedCaCert`, with the same CN. */
  untrustedCert: string;
  untrustedKey: string;
}

/** Options of {@linkcode generateCerts}. */
export interface CertOptions {
  /**
   * Directory to write into; created with mode 0700 if it does not exist.
   * @default a fresh `Deno.makeTempDir({ prefix: "cloudtaser-certs-" })`
   */
  dir?: string;
  /**
   * Common name of both client certificates.
   * @default "cloudtaser-app"
   */
  clientCommonName?: string;
}

/** `openssl` failed or is missing; `stderr` is its output. */
export class OpensslError extends Error {
  constructor(message: string, readonly stderr = "") {
    super(stderr ? `${message}\n${stderr.trim()}` : message);
    this.name = "OpensslError";
  }
}

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

async function openssl(args: string[]): Promise<void> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("openssl", {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new OpensslError(
        "openssl not found on PATH: install it (Debian: apt-get install openssl)",
      );
    }
    throw e;
  }
  if (!out.success) {
    throw new OpensslError(
      `openssl ${args[0]} failed (exit ${out.code})`,
      new TextDecoder().decode(out.stderr),
    );
  }
}

/**
 * One self-signed CA (`issuer` absent) or one certificate signed by `issuer`,
 * with a new P-256 key, in a single `openssl req -x509` run.
 */
function makeCert(
  cnf: string,
  name: string,
  subject: string,
  ext: "ca_ext" | "server_ext" | "client_ext",
  issuer?: { cert: string; key: string },
): Promise<void> {
  const args = [
    "req",
    "-x509",
    "-new",
    "-config",
    cnf,
    "-extensions",
    ext,
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-noenc",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "3",
    "-subj",
    subject,
  ];
  if (issuer) args.push("-CA", issuer.cert, "-CAkey", issuer.key);
  return openssl(args);
}

/**
 * Generates the test PKI: two rounds of `openssl`, about 100 ms.
 *
 * @example
 * ```ts
 * import { generateCerts } from "./certs.ts";
 * const certs = await generateCerts();
 * const client = Deno.createHttpClient({
 *   caCerts: [await Deno.readTextFile(certs.caCert)],
 *   cert: await Deno.readTextFile(certs.clientCert),
 *   key: await Deno.readTextFile(certs.clientKey),
 * });
 * client.close();
 * await Deno.remove(certs.dir, { recursive: true });
 * ```
 */
export async function generateCerts(
  opts: CertOptions = {},
): Promise<TestCerts> {
  const dir = opts.dir ??
    await Deno.makeTempDir({ prefix: "cloudtaser-certs-" });
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  await Deno.chmod(dir, 0o700);
  const p = (f: string) => `${dir}/${f}`;
  const cnf = p("openssl.cnf");
  await Deno.writeTextFile(cnf, OPENSSL_CNF);
  const cn = opts.clientCommonName ?? "cloudtaser-app";

  await Promise.all([
    makeCert(cnf, p("ca"), "/CN=cloudtaser test CA", "ca_ext"),
    makeCert(cnf, p("untrusted-ca"), "/CN=cloudtaser untrusted CA", "ca_ext"),
  ]);
  const ca = { cert: p("ca.pem"), key: p("ca.key") };
  const untrustedCa = {
    cert: p("untrusted-ca.pem"),
    key: p("untrusted-ca.key"),
  };
  await Promise.all([
    makeCert(cnf, p("server"), "/CN=localhost", "server_ext", ca),
    makeCert(cnf, p("client"), `/CN=${cn}`, "client_ext", ca),
    makeCert(cnf, p("untrusted"), `/CN=${cn}`, "client_ext", untrustedCa),
  ]);
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".key")) await Deno.chmod(p(e.name), 0o600);
  }
  return {
    dir,
    caCert: ca.cert,
    caKey: ca.key,
    serverCert: p("server.pem"),
    serverKey: p("server.key"),
    clientCert: p("client.pem"),
    clientKey: p("client.key"),
    untrustedCaCert: untrustedCa.cert,
    untrustedCert: p("untrusted.pem"),
    untrustedKey: p("untrusted.key"),
  };
}
