/**
 * The login each auth method sends: mount and JSON body as bytes. Credential
 * files are read as bytes and zeroed once the body is built.
 *
 * | method | mount (default) | body |
 * |---|---|---|
 * | kubernetes | auth/kubernetes | `{role, jwt}`, jwt from VAULT_JWT_FILE |
 * | jwt | auth/jwt | `{role, jwt}` |
 * | approle | auth/approle | `{role_id, secret_id}`: VAULT_AUTH_ROLE, VAULT_APPROLE_SECRET_ID_FILE |
 * | cert | auth/cert | `{name}` when VAULT_AUTH_ROLE is set, else `{}` |
 * | token | none | VAULT_TOKEN_FILE, else VAULT_TOKEN |
 */
import type { Config } from "../config/parse.ts";
import type { EnumValue, SettingName } from "../config/table.ts";
import { VaultError } from "./errors.ts";
import { jsonBody, readCredentialFile } from "./json_body.ts";

/** An auth method name, as VAULT_AUTH_METHOD spells it. */
export type AuthMethod = EnumValue<"VAULT_AUTH_METHOD">;

/** A login to POST, or a token to use as is. */
export type LoginRequest =
  | { method: AuthMethod; mount: string; body: Uint8Array }
  | { method: "token"; token: Uint8Array; fromEnv: boolean };

const enc = new TextEncoder();

/** `auth/<mount>` without surrounding slashes. */
export function authMount(config: Config, method: AuthMethod): string {
  const set = config.string("VAULT_AUTH_MOUNT_PATH");
  if (set === undefined) return `auth/${method}`;
  const m = set.replace(/^\/+|\/+$/g, "");
  return m.startsWith("auth/") ? m : `auth/${m}`;
}

function need(config: Config, name: SettingName, method: string): string {
  const v = config.string(name);
  if (v === undefined) {
    throw new VaultError(
      "config",
      `VAULT_AUTH_METHOD=${method} needs ${name}`,
    );
  }
  return v;
}

function credential(config: Config, name: SettingName): Uint8Array {
  const path = config.string(name)!;
  let bytes: Uint8Array;
  try {
    bytes = readCredentialFile(path);
  } catch (e) {
    throw new VaultError(
      "config",
      `${name}=${path} cannot be read: ${(e as Error).message}`,
    );
  }
  if (bytes.length === 0) {
    throw new VaultError("config", `${name}=${path} is empty`);
  }
  return bytes;
}

/**
 * Builds the login for the configured method. The caller zeroes `body` (or
 * `token`) after use.
 */
export function loginRequest(config: Config): LoginRequest {
  const method = config.enum("VAULT_AUTH_METHOD");
  const withSecret = (
    fields: Record<string, Uint8Array>,
    secret: Uint8Array,
  ) => {
    try {
      return jsonBody(fields);
    } finally {
      secret.fill(0);
    }
  };
  switch (method) {
    case "token": {
      if (config.string("VAULT_TOKEN_FILE") !== undefined) {
        return {
          method,
          token: credential(config, "VAULT_TOKEN_FILE"),
          fromEnv: false,
        };
      }
      const t = config.string("VAULT_TOKEN");
      if (t === undefined) {
        throw new VaultError(
          "config",
          "VAULT_AUTH_METHOD=token needs VAULT_TOKEN_FILE (preferred) or " +
            "VAULT_TOKEN",
        );
      }
      return { method, token: enc.encode(t), fromEnv: true };
    }
    case "kubernetes":
    case "jwt": {
      const role = need(config, "VAULT_AUTH_ROLE", method);
      const jwt = credential(config, "VAULT_JWT_FILE");
      return {
        method,
        mount: authMount(config, method),
        body: withSecret({ role: enc.encode(role), jwt }, jwt),
      };
    }
    case "approle": {
      const roleId = need(config, "VAULT_AUTH_ROLE", method);
      need(config, "VAULT_APPROLE_SECRET_ID_FILE", method);
      const secretId = credential(config, "VAULT_APPROLE_SECRET_ID_FILE");
      return {
        method,
        mount: authMount(config, method),
        body: withSecret(
          { role_id: enc.encode(roleId), secret_id: secretId },
          secretId,
        ),
      };
    }
    case "cert": {
      const role = config.string("VAULT_AUTH_ROLE");
      return {
        method,
        mount: authMount(config, method),
        body: jsonBody(role === undefined ? {} : { name: enc.encode(role) }),
      };
    }
  }
}
