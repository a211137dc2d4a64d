/**
 * The keys that encrypt verification codes. Every instance on one database
 * must hold the same key, so the database records the fingerprints (keyId) of
 * the keys its instances encrypted with; an instance none of whose keys is
 * recorded there refuses to start instead of writing codes no other instance
 * can read (see command/encryption_keys.ts). Rotation: the new key first, the
 * old one in `encryption-keys-old`; the new fingerprint joins the recorded ones.
 * This module finds the keys: a value, a file, or the data directory's own.
 */
import fs from "node:fs";
import { ensureDataDir, loadOrCreateEncryptionKey } from "./data_dir.js";

export class EncryptionKeyError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "KEYS-Ek3yq";
}

/** Where the keys come from: the settings of that name (see config.ts). */
export interface KeyConfig {
  dataDir: string;
  databaseUrl?: string | undefined;
  encryptionKey?: string | undefined;
  encryptionKeyFile?: string | undefined;
  encryptionKeysOld: readonly string[];
}

/** The configured keys, the one that encrypts first. */
export function loadEncryptionKeys(config: KeyConfig): Buffer[] {
  let current: Buffer;
  if (config.encryptionKey) current = decodeKey(config.encryptionKey, "encryption-key");
  else if (config.encryptionKeyFile) current = readKeyFile(config.encryptionKeyFile);
  else if (config.databaseUrl) {
    throw new EncryptionKeyError("with database-url every instance needs the same key: set LATCHKEY_ENCRYPTION_KEY_FILE or LATCHKEY_ENCRYPTION_KEY");
  } else {
    ensureDataDir(config.dataDir);
    current = loadOrCreateEncryptionKey(config.dataDir);
  }
  const old = config.encryptionKeysOld.map((entry) => (fs.existsSync(entry) ? readKeyFile(entry) : decodeKey(entry, "encryption-keys-old")));
  return [current, ...old];
}

function readKeyFile(file: string): Buffer {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new EncryptionKeyError(`encryption key file ${file} is not readable (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return decodeKey(text, file);
}

function decodeKey(text: string, source: string): Buffer {
  const key = Buffer.from(text.trim(), "base64");
  if (key.length !== 32) throw new EncryptionKeyError(`${source} must hold 32 bytes in base64`);
  return key;
}
