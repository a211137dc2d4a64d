/**
 * The instance's record of its encryption keys' fingerprints: every instance
 * on one database must encrypt with a key the others can read. Where the keys
 * come from is eventstore/encryption_keys.ts.
 */
import { keyId } from "../crypto/code_cipher.js";
import { EncryptionKeyError } from "../eventstore/encryption_keys.js";
import type { NewEvent } from "../eventstore/eventstore.js";
import type { Aggregates } from "./aggregates.js";
import { execute } from "./execute.js";
import { INSTANCE_AGGREGATE, INSTANCE_ID } from "./instance.js";
import type { WriteModel } from "./write_model.js";

export const KEYS_RECORDED = "instance.encryption_keys.recorded";

export interface RecordedKeys {
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
export async function checkEncryptionKeys(aggregates: Aggregates, keys: readonly Buffer[]): Promise<string[]> {
  const ids = keys.map(keyId);
  const { state } = await execute(aggregates, { type: INSTANCE_AGGREGATE, id: INSTANCE_ID }, keysModel, (recorded) => ({ events: decideRecordKeys(recorded, ids) }));
  return [...new Set([...state.keyIds, ...ids])];
}

/** Refuses keys none of which the instance recorded (once it recorded any); records the ones it has not seen. */
export function decideRecordKeys(recorded: RecordedKeys, ids: readonly string[]): NewEvent[] {
  if (recorded.keyIds.size > 0 && !ids.some((id) => recorded.keyIds.has(id))) {
    throw new EncryptionKeyError(
      `encryption key ${ids[0]} does not match the database's keys (${[...recorded.keyIds].join(", ")}): give this instance the key the others use`,
    );
  }
  const fresh = ids.filter((id) => !recorded.keyIds.has(id));
  return fresh.length > 0 ? [{ type: KEYS_RECORDED, payload: { keyIds: fresh }, editor: "system" }] : [];
}
