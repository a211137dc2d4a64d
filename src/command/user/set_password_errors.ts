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
} as const;
