/**
 * The shipped list of common passwords (zxcvbn-ts's "passwords-common", about
 * 49,000 entries from breach corpora, lowercase) and the strength estimator
 * built on it. Loaded on first need, not at start: decompressing the list
 * takes some 60 ms and 5 MB, building the estimator as long again, which an
 * instance whose organizations ask for none of these rules never pays.
 */
import type { ZxcvbnFactory } from "@zxcvbn-ts/core";

/** zxcvbn's scores in words, as its documentation names them. */
export const SCORE_WORDS = ["too guessable", "very guessable", "somewhat guessable", "safely unguessable", "very unguessable"] as const;

/** Longer passwords are estimated on their first this many characters: the estimate grows with the square of the length. */
export const STRENGTH_MAX_LENGTH = 64;

interface Lists {
  common: ReadonlySet<string>;
  makeEstimator(): ZxcvbnFactory;
  estimator?: ZxcvbnFactory;
}

let lists: Lists | undefined;

/** Loads the list and the estimator's code; the functions below need it done. */
export async function loadPasswordLists(): Promise<void> {
  if (lists) return;
  const [{ ZxcvbnFactory }, { adjacencyGraphs, dictionary }] = await Promise.all([import("@zxcvbn-ts/core"), import("@zxcvbn-ts/language-common")]);
  lists ??= {
    common: new Set(dictionary["passwords-common"]),
    makeEstimator: () => new ZxcvbnFactory({ dictionary: { ...dictionary }, graphs: adjacencyGraphs }),
  };
}

function loaded(): Lists {
  if (!lists) throw new Error("the password lists are not loaded: await loadPasswordLists() first");
  return lists;
}

export function commonPasswords(): ReadonlySet<string> {
  return loaded().common;
}

/** zxcvbn's score, 0 (guessable) to 4 (very unguessable); `userInputs` are words that make a password weaker. */
export function strengthScore(password: string, userInputs: readonly string[]): number {
  const l = loaded();
  l.estimator ??= l.makeEstimator();
  return l.estimator.check([...password].slice(0, STRENGTH_MAX_LENGTH).join(""), [...userInputs]).score;
}
