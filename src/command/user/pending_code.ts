import { codesEqual } from "../../crypto/codes.js";
import type { CommandDeps } from "../deps.js";
import type { UserState } from "./events.js";

/** The encrypted pending code the given one matches (decrypted, compared in constant time), if any. */
export function matchPendingCode(deps: CommandDeps, user: UserState, given: string): string | undefined {
  const pending = user.kind === "human" && user.state !== "deleted" ? user.pendingCode : undefined;
  return pending && codesEqual(deps.cipher.decrypt(pending.encrypted), given) ? pending.encrypted : undefined;
}
