import { Code } from "@connectrpc/connect";

/**
 * A failure the caller can act on. `id` names the call site (stable, unique,
 * greppable: "COMMAND-SAF4f"), `key` is the i18n key clients may translate
 * ("Errors.User.NotFound"), `text` is the English message.
 *
 * Rules and commands throw these; the server maps them to each protocol.
 */
export class LatchkeyError extends Error {
  constructor(
    readonly code: Code,
    readonly id: string,
    readonly key: string,
    readonly text: string,
  ) {
    super(`${text} (${id})`);
    this.name = "LatchkeyError";
  }

  /** What the error details on the wire name: this error's id and key; an error with several reasons names each. */
  get reasons(): readonly { id: string; key: string }[] {
    return [{ id: this.id, key: this.key }];
  }
}

type Thrower = (id: string, key: string, text: string) => LatchkeyError;
const of =
  (code: Code): Thrower =>
  (id, key, text) =>
    new LatchkeyError(code, id, key, text);

export const invalidArgument = of(Code.InvalidArgument);
export const notFound = of(Code.NotFound);
export const alreadyExists = of(Code.AlreadyExists);
export const permissionDenied = of(Code.PermissionDenied);
export const unauthenticated = of(Code.Unauthenticated);
export const failedPrecondition = of(Code.FailedPrecondition);
export const resourceExhausted = of(Code.ResourceExhausted);
export const unavailable = of(Code.Unavailable);
export const internal = of(Code.Internal);
export const unimplemented = of(Code.Unimplemented);

/** A setting that cannot be used (a flag, a variable, a template): the CLI reports it as one line and exits with 2. */
export class ConfigError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "CONFIG-Cfg2x";
}
