/**
 * The shipped list of common passwords (zxcvbn-ts's "passwords-common", about
 * 49,000 entries from breach corpora, lowercase) and the strength estimator
 * built on it. Both are made on first use: decompressing the list and
 * building the matcher's dictionaries takes a moment and some memory, which
 * an instance without these rules never pays.
 */
import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import { adjacencyGraphs, dictionary } from "@zxcvbn-ts/language-common";

/** zxcvbn's scores in words, as its documentation names them. */
export const SCORE_WORDS = ["too guessable", "very guessable", "somewhat guessable", "safely unguessable", "very unguessable"] as const;

let common: ReadonlySet<string> | undefined;
let estimator: ZxcvbnFactory | undefined;

export function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(dictionary["passwords-common"]);
  return common;
}

/** zxcvbn's score, 0 (guessable) to 4 (very unguessable); `userInputs` are words that make a password weaker. */
export function strengthScore(password: string, userInputs: readonly string[]): number {
  estimator ??= new ZxcvbnFactory({ dictionary: { ...dictionary }, graphs: adjacencyGraphs });
  return estimator.check(password, [...userInputs]).score;
}
