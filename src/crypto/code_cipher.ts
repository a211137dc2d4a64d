import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const ALGORITHM = "aes-256-gcm";
const IV_BYTES = 12;
const VERSION = "v1";
/** IVs cut from one draw of random bytes: a call into the CSPRNG per this many codes instead of one per code */
const IVS_PER_DRAW = 256;

/** Short, stable name of a key, stored beside each ciphertext so rotation can find it. */
export function keyId(key: Buffer): string {
  return createHash("sha256").update(key).digest("hex").slice(0, 16);
}

/**
 * Reversible encryption of verification codes (AES-256-GCM), so the notifier
 * can put a code into a message while the event store never holds it in the
 * clear. The first key encrypts; every key decrypts what it encrypted.
 */
export class CodeCipher {
  private readonly keys: Map<string, Buffer>;
  private readonly current: { id: string; key: Buffer };
  private ivs = Buffer.alloc(0);
  private ivOffset = 0;

  constructor(keys: readonly Buffer[]) {
    const [first] = keys;
    if (!first) throw new Error("at least one encryption key is required");
    for (const key of keys) {
      if (key.length !== 32) throw new Error("encryption keys must be 32 bytes");
    }
    this.keys = new Map(keys.map((key) => [keyId(key), key]));
    this.current = { id: keyId(first), key: first };
  }

  encrypt(plain: string): string {
    const iv = this.nextIv();
    const cipher = createCipheriv(ALGORITHM, this.current.key, iv);
    const ciphertext = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.current.id, iv, ciphertext, tag]
      .map((part) => (typeof part === "string" ? part : part.toString("base64url")))
      .join(".");
  }

  /** A fresh random IV; no two calls share bytes, as GCM needs for every IV under one key. */
  private nextIv(): Buffer {
    if (this.ivOffset + IV_BYTES > this.ivs.length) {
      this.ivs = randomBytes(IV_BYTES * IVS_PER_DRAW);
      this.ivOffset = 0;
    }
    const iv = this.ivs.subarray(this.ivOffset, this.ivOffset + IV_BYTES);
    this.ivOffset += IV_BYTES;
    return iv;
  }

  decrypt(sealed: string): string {
    const [version, id, iv, ciphertext, tag] = sealed.split(".");
    if (version !== VERSION || !id || !iv || ciphertext === undefined || !tag) {
      throw new Error("malformed encrypted value");
    }
    const key = this.keys.get(id);
    if (!key) throw new Error(`no key ${id} to decrypt this value`);
    const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(iv, "base64url"));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([
      decipher.update(Buffer.from(ciphertext, "base64url")),
      decipher.final(),
    ]).toString("utf8");
  }
}
