/** The error of a refused new password: the first violated rule's id, and every violated rule in the details. */
import { Code } from "@connectrpc/connect";
import { LatchkeyError } from "../../errors/errors.js";
import type { Violation } from "./check.js";

export class PasswordRejectedError extends LatchkeyError {
  constructor(readonly violations: readonly Violation[]) {
    const [first] = violations;
    if (!first) throw new Error("a refused password has at least one violated rule");
    super(Code.InvalidArgument, first.id, first.key, `The password does not meet the password policy, ${violations.map((v) => v.text).join("; ")}`);
    this.name = "PasswordRejectedError";
  }

  /** every rule the password breaks, one detail each */
  override get reasons(): readonly { id: string; key: string }[] {
    return this.violations.map((v) => ({ id: v.id, key: v.key }));
  }
}
