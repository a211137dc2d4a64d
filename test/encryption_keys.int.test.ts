/** The code-encryption keys: where they come from, and the fingerprints the database records. */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { keyId } from "../src/crypto/code_cipher.js";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";
import { setupInstance } from "../src/command/instance.js";
import { Aggregates } from "../src/command/aggregates.js";
import { checkEncryptionKeys } from "../src/command/encryption_keys.js";
import { EncryptionKeyError, loadEncryptionKeys } from "../src/eventstore/encryption_keys.js";
import { tempDir } from "./support/server.js";

const key = () => randomBytes(32);
const dirs: string[] = [];
const stores: SqliteEventStore[] = [];

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function dir(): string {
  const d = tempDir("latchkey-keys-");
  dirs.push(d);
  return d;
}

async function instance(): Promise<SqliteEventStore> {
  const store = openSqliteEventStore({ file: path.join(dir(), "latchkey.db") });
  stores.push(store);
  await setupInstance(store);
  return store;
}

describe("loadEncryptionKeys", () => {
  const base = { dataDir: "", encryptionKeysOld: [] as string[] };

  it("takes the key from a value or a file, old keys from files or values, the current one first", () => {
    const [current, oldFile, oldValue] = [key(), key(), key()];
    const d = dir();
    fs.writeFileSync(path.join(d, "old"), oldFile.toString("base64") + "\n");
    const keys = loadEncryptionKeys({ ...base, encryptionKey: current.toString("base64"), encryptionKeysOld: [path.join(d, "old"), oldValue.toString("base64")] });
    expect(keys).toEqual([current, oldFile, oldValue]);
    fs.writeFileSync(path.join(d, "current"), current.toString("base64"));
    expect(loadEncryptionKeys({ ...base, encryptionKeyFile: path.join(d, "current") })).toEqual([current]);
  });

  it("creates <data-dir>/encryption.key on SQLite, and requires a configured key on PostgreSQL", () => {
    const d = dir();
    const [created] = loadEncryptionKeys({ ...base, dataDir: d });
    expect(loadEncryptionKeys({ ...base, dataDir: d })).toEqual([created]);
    expect(() => loadEncryptionKeys({ ...base, dataDir: d, databaseUrl: "postgres://db/x" })).toThrow(EncryptionKeyError);
  });

  it("refuses keys that are not 32 bytes of base64", () => {
    expect(() => loadEncryptionKeys({ ...base, encryptionKey: "c2hvcnQ=" })).toThrow("encryption-key must hold 32 bytes in base64");
    expect(() => loadEncryptionKeys({ ...base, encryptionKeyFile: "/nonexistent/key" })).toThrow(/not readable \(ENOENT\)/);
  });
});

describe("checkEncryptionKeys", () => {
  it("records the first keys, accepts them again, refuses others, and grows the record on rotation", async () => {
    const store = await instance();
    const [a, b, c] = [key(), key(), key()];
    expect(await checkEncryptionKeys(new Aggregates(store), [a])).toEqual([keyId(a)]);
    expect(await checkEncryptionKeys(new Aggregates(store), [a])).toEqual([keyId(a)]);
    await expect(checkEncryptionKeys(new Aggregates(store), [c])).rejects.toThrow(`encryption key ${keyId(c)} does not match the database's keys (${keyId(a)})`);
    expect(await checkEncryptionKeys(new Aggregates(store), [b, a])).toEqual([keyId(a), keyId(b)]);
    // the new key alone is one of the database's now
    expect(await checkEncryptionKeys(new Aggregates(store), [b])).toEqual([keyId(a), keyId(b)]);
    const recorded = (await store.readAggregate({ type: "instance", id: "default" })).filter((e) => e.type === "instance.encryption_keys.recorded");
    expect(recorded.map((e) => e.payload["keyIds"])).toEqual([[keyId(a)], [keyId(b)]]);
  });
});
