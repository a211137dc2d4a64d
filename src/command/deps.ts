import type { CodeCipher } from "../crypto/code_cipher.js";
import type { PasswordHasher } from "../crypto/passwords.js";
import type { EventStore } from "../eventstore/eventstore.js";
import type { Aggregates } from "./aggregates.js";
import type { BreachRange } from "./password_rules/breach_range.js";

export interface CodeSettings {
  length: number;
  ttlMs: number;
  /** wrong codes after which a pending code is invalidated */
  maxAttempts: number;
}

/** Everything commands need, passed in so tests choose the clock and the store. */
export interface CommandDeps {
  store: EventStore;
  aggregates: Aggregates;
  clock: () => Date;
  cipher: CodeCipher;
  hasher: PasswordHasher;
  codes: CodeSettings;
  /** the breached-password range API, when the operator configured one */
  breachRange?: BreachRange;
}
