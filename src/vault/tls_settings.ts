/**
 * Reads the TLS material named by the configuration: VAULT_CACERT, every PEM
 * file in VAULT_CAPATH, VAULT_CLIENT_CERT / VAULT_CLIENT_KEY, and the
 * server-name and skip-verify switches.
 */
import type { Config } from "../config/parse.ts";
import type { SettingName } from "../config/table.ts";
import { VaultError } from "./errors.ts";

/** What a transport needs to set up TLS. */
export interface TlsSettings {
  /** PEM texts of the CAs to trust (besides the system roots). */
  caCerts: string[];
  /** PEM client certificate (mTLS), with `key`. */
  cert?: string;
  /**
   * PEM private key. A JS string, because `Deno.createHttpClient` takes
   * nothing else; it is a key, not a secret value delivered to the app.
   */
  key?: string;
  /** Name to verify the server certificate against, when not the URL host. */
  serverName?: string;
  /** Do not verify the server certificate at all. */
  skipVerify: boolean;
}

function readPem(config: Config, name: SettingName): string | undefined {
  const file = config.string(name);
  if (file === undefined) return undefined;
  try {
    return Deno.readTextFileSync(file);
  } catch (e) {
    throw new VaultError(
      "config",
      `${config.source(name)}=${file} cannot be read: ${(e as Error).message}`,
    );
  }
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----/;
const KEY_BLOCK = /-----BEGIN (RSA |EC )?PRIVATE KEY-----/;

/**
 * Fails unless `pem` (read from `name`) holds what it must: certificates
 * that parse, or an unencrypted private key. A client built from it is the
 * parser (rustls, as the connection will use), so what passes here is what
 * the handshake gets.
 */
function checkPem(
  config: Config,
  name: SettingName,
  pem: string,
  what: "certificate" | "key",
): void {
  const src = `${config.source(name)}=${config.string(name)}`;
  const fail = (why: string) => {
    throw new VaultError("config", `${src} ${why}`);
  };
  if (what === "key") {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem)) {
      fail("is an encrypted private key; give the key without a passphrase");
    }
    if (!KEY_BLOCK.test(pem)) {
      fail("is not a PEM private key (no -----BEGIN PRIVATE KEY----- block)");
    }
    return;
  }
  if (!CERT_BLOCK.test(pem)) {
    fail(
      "is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)",
    );
  }
  if (name === "VAULT_CLIENT_CERT") return; // parsed with its key below
  try {
    Deno.createHttpClient({ caCerts: [pem] }).close();
  } catch (e) {
    fail(`holds a certificate that cannot be parsed (${(e as Error).message})`);
  }
}

/** Fails unless the client certificate and key parse and belong together. */
function checkClientPair(config: Config, cert: string, key: string): void {
  const certSrc = `${config.source("VAULT_CLIENT_CERT")}=${
    config.string("VAULT_CLIENT_CERT")
  }`;
  const keySrc = `${config.source("VAULT_CLIENT_KEY")}=${
    config.string("VAULT_CLIENT_KEY")
  }`;
  try {
    Deno.createHttpClient({ cert, key }).close();
  } catch (e) {
    const msg = (e as Error).message;
    const why = /KeyMismatch|not be consistent/i.test(msg)
      ? `${certSrc} and ${keySrc} do not match: the key is not the ` +
        "certificate's private key"
      : /No certificates/i.test(msg)
      ? `${certSrc} holds no certificate that can be parsed`
      : /No keys/i.test(msg)
      ? `${keySrc} holds no private key that can be parsed`
      : `${certSrc} and ${keySrc} cannot be used: ${msg}`;
    throw new VaultError("config", why);
  }
}

function pemsIn(config: Config): string[] {
  const dir = config.string("VAULT_CAPATH");
  if (dir === undefined) return [];
  const out: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) continue;
      const text = Deno.readTextFileSync(`${dir}/${entry.name}`);
      if (text.includes("-----BEGIN CERTIFICATE-----")) out.push(text);
    }
  } catch (e) {
    throw new VaultError(
      "config",
      `${config.source("VAULT_CAPATH")}=${dir} cannot be read: ${
        (e as Error).message
      }`,
    );
  }
  if (out.length === 0) {
    throw new VaultError(
      "config",
      `${config.source("VAULT_CAPATH")}=${dir} holds no PEM certificate`,
    );
  }
  return out;
}

/**
 * Loads the TLS settings; a file that cannot be read, is not PEM, does not
 * parse, or a client key that is not the certificate's, is a `config` error
 * naming the variable.
 *
 * @example
 * ```ts
 * const tls = tlsSettings(parseConfig({ VAULT_CACERT: "/etc/vault/ca.pem" }));
 * tls.caCerts.length; // 1
 * ```
 */
export function tlsSettings(config: Config): TlsSettings {
  const caCert = readPem(config, "VAULT_CACERT");
  const cert = readPem(config, "VAULT_CLIENT_CERT");
  const key = readPem(config, "VAULT_CLIENT_KEY");
  if ((cert === undefined) !== (key === undefined)) {
    throw new VaultError(
      "config",
      "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY must be set together",
    );
  }
  if (caCert !== undefined) {
    checkPem(config, "VAULT_CACERT", caCert, "certificate");
  }
  if (cert !== undefined && key !== undefined) {
    checkPem(config, "VAULT_CLIENT_CERT", cert, "certificate");
    checkPem(config, "VAULT_CLIENT_KEY", key, "key");
    checkClientPair(config, cert, key);
  }
  const host = new URL(config.string("VAULT_ADDR")!).hostname;
  const serverName = config.string("VAULT_TLS_SERVER_NAME");
  return {
    caCerts: [...(caCert ? [caCert] : []), ...pemsIn(config)],
    cert,
    key,
    serverName: serverName && serverName !== host ? serverName : undefined,
    skipVerify: config.bool("VAULT_SKIP_VERIFY"),
  };
}
