/**
 * Reads the TLS material named by the configuration: VAULT_CACERT, every PEM
 * file in VAULT_CAPATH, VAULT_CLIENT_CERT / VAULT_CLIENT_KEY, and the
 * server-name and skip-verify switches. Read as bytes: the key is never a
 * JS string.
 */
import { readFileBytes } from "../../ffi/shim.ts";
import type { Config } from "../config/parse.ts";
import type { SettingName } from "../config/table.ts";
import { VaultError } from "./errors.ts";

/** A PEM file as read, and where it came from (`VAULT_CACERT=/path`). */
export interface PemFile {
  source: string;
  pem: Uint8Array;
}

/** What the transport needs to set up TLS. */
export interface TlsSettings {
  /** PEM files of the CAs to trust; none: the system's store. */
  cas: PemFile[];
  /** PEM client certificate (mTLS), with `key`. */
  cert?: PemFile;
  /**
   * PEM private key, as bytes: the transport hands it to OpenSSL in the
   * shim and wipes it (src/vault/native_transport.ts).
   */
  key?: PemFile;
  /** Name to verify the server certificate against, when not the URL host. */
  serverName?: string;
  /** Do not verify the server certificate at all. */
  skipVerify: boolean;
}

function readPem(config: Config, name: SettingName): PemFile | undefined {
  const file = config.string(name);
  if (file === undefined) return undefined;
  try {
    return {
      source: `${config.source(name)}=${file}`,
      pem: readFileBytes(file),
    };
  } catch (e) {
    throw new VaultError(
      "config",
      `${config.source(name)}=${file} cannot be read: ${(e as Error).message}`,
    );
  }
}

/** True when the ASCII text `what` occurs in `bytes`. */
export function includesAscii(bytes: Uint8Array, what: string): boolean {
  const first = what.charCodeAt(0);
  outer: for (
    let i = bytes.indexOf(first);
    i >= 0;
    i = bytes.indexOf(first, i + 1)
  ) {
    if (i + what.length > bytes.length) return false;
    for (let j = 1; j < what.length; j++) {
      if (bytes[i + j] !== what.charCodeAt(j)) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * Fails unless `file` holds what it must, as text: a certificate block, or
 * an unencrypted private key block. Whether they parse, and whether the key
 * is the certificate's, the transport's set-up says (OpenSSL parses them as
 * the connection will use them).
 */
function checkPem(file: PemFile, what: "certificate" | "key"): void {
  const fail = (why: string) => {
    throw new VaultError("config", `${file.source} ${why}`);
  };
  if (what === "key") {
    if (includesAscii(file.pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----")) {
      fail("is an encrypted private key; give the key without a passphrase");
    }
    if (
      !["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"].some((k) =>
        includesAscii(file.pem, `-----BEGIN ${k}-----`)
      )
    ) {
      fail("is not a PEM private key (no -----BEGIN PRIVATE KEY----- block)");
    }
    return;
  }
  if (!includesAscii(file.pem, "-----BEGIN CERTIFICATE-----")) {
    fail(
      "is not a PEM certificate file (no -----BEGIN CERTIFICATE----- block)",
    );
  }
}

function pemsIn(config: Config): PemFile[] {
  const dir = config.string("VAULT_CAPATH");
  if (dir === undefined) return [];
  const source = `${config.source("VAULT_CAPATH")}=${dir}`;
  const out: PemFile[] = [];
  try {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) continue;
      const pem = Deno.readFileSync(`${dir}/${entry.name}`);
      if (includesAscii(pem, "-----BEGIN CERTIFICATE-----")) {
        out.push({ source: `${source} (${entry.name})`, pem });
      }
    }
  } catch (e) {
    throw new VaultError(
      "config",
      `${source} cannot be read: ${(e as Error).message}`,
    );
  }
  if (out.length === 0) {
    throw new VaultError("config", `${source} holds no PEM certificate`);
  }
  return out;
}

/**
 * Loads the TLS settings; a file that cannot be read or is not PEM is a
 * `config` error naming the variable (the transport's set-up adds: does
 * not parse, a key that is not the certificate's).
 *
 * @example
 * ```ts
 * const tls = tlsSettings(parseConfig({ VAULT_CACERT: "/etc/vault/ca.pem" }));
 * tls.cas.length; // 1
 * ```
 */
export function tlsSettings(config: Config): TlsSettings {
  const caCert = readPem(config, "VAULT_CACERT");
  const cert = readPem(config, "VAULT_CLIENT_CERT");
  const key = readPem(config, "VAULT_CLIENT_KEY");
  if ((cert === undefined) !== (key === undefined)) {
    key?.pem.fill(0);
    throw new VaultError(
      "config",
      "VAULT_CLIENT_CERT and VAULT_CLIENT_KEY must be set together",
    );
  }
  try {
    if (caCert !== undefined) checkPem(caCert, "certificate");
    if (cert !== undefined && key !== undefined) {
      checkPem(cert, "certificate");
      checkPem(key, "key");
    }
  } catch (e) {
    key?.pem.fill(0);
    throw e;
  }
  const host = new URL(config.string("VAULT_ADDR")!).hostname;
  const serverName = config.string("VAULT_TLS_SERVER_NAME");
  return {
    cas: [...(caCert ? [caCert] : []), ...pemsIn(config)],
    cert,
    key,
    serverName: serverName && serverName !== host ? serverName : undefined,
    skipVerify: config.bool("VAULT_SKIP_VERIFY"),
  };
}
