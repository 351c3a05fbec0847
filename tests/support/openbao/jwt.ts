/**
 * ES256 JWTs signed with a WebCrypto key pair, for OpenBao's JWT auth with
 * a static `jwt_validation_pubkeys` key. It stands in for a Kubernetes
 * service-account token: same shape, same `{role, jwt}` login body.
 */

const enc = new TextEncoder();

function b64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  const lines = b64.match(/.{1,64}/g)!.join("\n");
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

/** Claims of every minted token unless overridden. */
export interface JwtDefaults {
  /** @default "https://cloudtaser.test" */
  issuer?: string;
  /** @default "cloudtaser" */
  audience?: string;
  /** @default "system:serviceaccount:default:app" */
  subject?: string;
  /** Lifetime in seconds. @default 600 */
  ttlSeconds?: number;
}

/** Signs JWTs with one ES256 key; `publicKeyPem` goes to the server. */
export class JwtSigner {
  private constructor(
    readonly publicKeyPem: string,
    readonly issuer: string,
    readonly audience: string,
    readonly subject: string,
    readonly ttlSeconds: number,
    private readonly key: CryptoKey,
  ) {}

  /**
   * A new P-256 key pair.
   *
   * @example
   * ```ts
   * import { JwtSigner } from "./jwt.ts";
   * const signer = await JwtSigner.create();
   * const token = await signer.mint({ sub: "someone" });
   * console.log(signer.publicKeyPem, token);
   * ```
   */
  static async create(defaults: JwtDefaults = {}): Promise<JwtSigner> {
    const pair = await crypto.subtle.generateKey(
      { name: "ECDSA", namedCurve: "P-256" },
      true,
      ["sign", "verify"],
    );
    const spki = await crypto.subtle.exportKey("spki", pair.publicKey);
    return new JwtSigner(
      pem("PUBLIC KEY", spki),
      defaults.issuer ?? "https://cloudtaser.test",
      defaults.audience ?? "cloudtaser",
      defaults.subject ?? "system:serviceaccount:default:app",
      defaults.ttlSeconds ?? 600,
      pair.privateKey,
    );
  }

  /**
   * A signed compact JWT. `claims` override the defaults (`iss`, `sub`,
   * `aud`, `iat`, `nbf`, `exp`); a claim set to `undefined` is left out.
   */
  async mint(claims: Record<string, unknown> = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const body: Record<string, unknown> = {
      iss: this.issuer,
      sub: this.subject,
      aud: this.audience,
      iat: now,
      nbf: now - 5,
      exp: now + this.ttlSeconds,
      ...claims,
    };
    for (const k of Object.keys(body)) {
      if (body[k] === undefined) delete body[k];
    }
    const head = b64url(
      enc.encode(JSON.stringify({ alg: "ES256", typ: "JWT" })),
    );
    const payload = b64url(enc.encode(JSON.stringify(body)));
    const input = `${head}.${payload}`;
    // WebCrypto's ECDSA signature is r || s, which is what JWS ES256 wants.
    const sig = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      this.key,
      enc.encode(input),
    );
    return `${input}.${b64url(new Uint8Array(sig))}`;
  }
}
