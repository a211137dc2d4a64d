/** Files latchkey keeps in its data directory besides the database. */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const DATABASE_FILE = "latchkey.db";
export const ENCRYPTION_KEY_FILE = "encryption.key";
export const ADMIN_TOKEN_FILE = "admin.pat";

export class DataDirError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "EVENTSTORE-Dd1r9";
}

/** Whether the data directory exists; something else in its place is an error. */
export function dataDirExists(dir: string): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(dir);
  } catch {
    return false;
  }
  if (!stat.isDirectory()) throw new DataDirError(`data directory ${dir} is a file, not a directory`);
  return true;
}

/** Creates the directory if needed and proves it is writable. */
export function ensureDataDir(dir: string): void {
  dataDirExists(dir);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.accessSync(dir, fs.constants.R_OK | fs.constants.W_OK);
  } catch (err) {
    const reason = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new DataDirError(`data directory ${dir} is not usable (${reason})`);
  }
}

/** Writes a secret file readable by the owner only; never overwrites an existing one. */
export function writeSecretFile(file: string, content: string | Buffer): void {
  fs.writeFileSync(file, content, { mode: 0o600, flag: "wx" });
}

/** The key that encrypts verification codes, created on first start. */
export function loadOrCreateEncryptionKey(dir: string): Buffer {
  const file = path.join(dir, ENCRYPTION_KEY_FILE);
  try {
    writeSecretFile(file, randomBytes(32).toString("base64") + "\n");
  } catch (err) {
    if (!(err instanceof Error && "code" in err && err.code === "EEXIST")) throw err;
  }
  const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  if (key.length !== 32) throw new DataDirError(`${file} must hold 32 bytes in base64`);
  return key;
}
