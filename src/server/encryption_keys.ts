/**
 * The keys that encrypt verification codes. Every instance on one database
 * must hold the same key, so the database records the fingerprints (keyId) of
 * the keys its instances encrypted with; an instance none of whose keys is
 * recorded there refuses to start instead of writing codes no other instance
 * can read. Rotation: the new key first, the old one in `encryption-keys-old`;
 * the new fingerprint joins the recorded ones.
 */
import fs from "node:fs";
import { Aggregates } from "../command/aggregates.js";
import { execute } from "../command/execute.js";
import type { WriteModel } from "../command/write_model.js";
import { INSTANCE_AGGREGATE, INSTANCE_ID } from "../command/instance.js";
import type { Config } from "../config.js";
import { keyId } from "../crypto/code_cipher.js";
import type { EventStore } from "../eventstore/eventstore.js";
import { ensureDataDir, loadOrCreateEncryptionKey } from "../eventstore/data_dir.js";

export const KEYS_RECORDED = "instance.encryption_keys.recorded";

export class EncryptionKeyError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "KEYS-Ek3yq";
}

type KeyConfig = Pick<Config, "dataDir" | "databaseUrl" | "encryptionKey" | "encryptionKeyFile" | "encryptionKeysOld">;

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

interface RecordedKeys {
  sequence: number;
  orgId: string;
  keyIds: ReadonlySet<string>;
}

const keysModel: WriteModel<RecordedKeys> = {
  name: "encryption_keys",
  version: 1,
  initial: () => ({ sequence: 0, orgId: "", keyIds: new Set() }),
  evolve(before, event) {
    const state = { ...before, sequence: event.sequence, orgId: before.orgId || event.resourceOwner };
    if (event.type !== KEYS_RECORDED) return state;
    return { ...state, keyIds: new Set([...state.keyIds, ...(event.payload["keyIds"] as string[])]) };
  },
};

/**
 * Checks the keys against the instance's recorded fingerprints and records the
 * ones not seen yet. The first start records its keys; later starts need at
 * least one key in common with the record. Returns the fingerprints now recorded.
 */
export async function checkEncryptionKeys(store: EventStore, keys: readonly Buffer[]): Promise<string[]> {
  const ids = keys.map(keyId);
  const { state } = await execute(new Aggregates(store), { type: INSTANCE_AGGREGATE, id: INSTANCE_ID }, keysModel, (recorded) => {
    if (recorded.keyIds.size > 0 && !ids.some((id) => recorded.keyIds.has(id))) {
      throw new EncryptionKeyError(
        `encryption key ${ids[0]} does not match the database's keys (${[...recorded.keyIds].join(", ")}): give this instance the key the others use`,
      );
    }
    const fresh = ids.filter((id) => !recorded.keyIds.has(id));
    return { events: fresh.length > 0 ? [{ type: KEYS_RECORDED, payload: { keyIds: fresh }, editor: "system" }] : [] };
  });
  return [...new Set([...state.keyIds, ...ids])];
}
