/**
 * Error ids of SetPassword that callers act on. Dependency-free, so the
 * browser bundle of the reset page can import it too.
 */
export const SetPasswordErrorIds = {
  passwordEmpty: "COMMAND-Mf0sd",
  codeNotFound: "COMMAND-2M9fs",
  codeExpired: "CODE-QvUQ4P",
  codeInvalid: "CODE-woT0xc",
  codeTooManyAttempts: "CODE-Tm4tA",
  currentPasswordInvalid: "COMMAND-3M0fs",
  userLocked: "COMMAND-JLK35",
  policyNotMet: "COMMAND-Pw7cx",
  /** the password rules beyond complexity, one id each (see command/password_rules) */
  passwordReused: "COMMAND-HiStr1",
  passwordCommon: "COMMAND-Cmn0p",
  passwordBreached: "COMMAND-Brch3",
  passwordPersonalData: "COMMAND-Prs0n",
  passwordTooWeak: "COMMAND-Wk5cr",
} as const;
