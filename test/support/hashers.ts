/** Password hashers for tests: the real argon2id, counted, or held until a test lets it go on. */
import { argon2idHasher, type PasswordHasher } from "../../src/crypto/passwords.js";

/** Cheap argon2id parameters, so that tests that hash often stay quick. */
export const CHEAP_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 };

export interface CountingHasher extends PasswordHasher {
  readonly calls: { hash: number; verify: number };
}

/** The real argon2id hasher, counting every hash and verify it is asked for. */
export function countingHasher(inner: PasswordHasher = argon2idHasher(CHEAP_ARGON2)): CountingHasher {
  const calls = { hash: 0, verify: 0 };
  return {
    calls,
    hash(password) {
      calls.hash++;
      return inner.hash(password);
    },
    verify(hash, password) {
      calls.verify++;
      return inner.verify(hash, password);
    },
  };
}

export interface GatedHasher extends PasswordHasher {
  /** calls that have reached the hasher and wait for release() */
  readonly entered: () => number;
  /** lets every held call, and all later ones, go on */
  release(): void;
}

/** The real argon2id hasher whose calls wait until the test releases them. */
export function gatedHasher(inner: PasswordHasher = argon2idHasher(CHEAP_ARGON2)): GatedHasher {
  let entered = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  return {
    entered: () => entered,
    release: () => open(),
    async hash(password) {
      entered++;
      await gate;
      return inner.hash(password);
    },
    async verify(hash, password) {
      entered++;
      await gate;
      return inner.verify(hash, password);
    },
  };
}
