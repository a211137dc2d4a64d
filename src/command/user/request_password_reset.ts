/** PasswordReset: a fresh code, kept encrypted, sent by the notifier or returned to the caller. */
import type { RequestOrigin } from "../../http/origin.js";
import { generateCode } from "../../crypto/codes.js";
import { invalidArgument } from "../../errors/errors.js";
import type { CommandDeps } from "../deps.js";
import { detailsOf } from "../details.js";
import { execute } from "../execute.js";
import type { Principal } from "../permissions.js";
import { UrlTemplateError, checkUrlTemplate } from "../url_template.js";
import { decidePasswordReset, type RequestPasswordReset } from "./decide.js";
import { userModel } from "./events.js";
import { userRef, type ResetMedium } from "./inputs.js";

export async function requestPasswordReset(deps: CommandDeps, principal: Principal, userId: string, medium: ResetMedium, origin?: RequestOrigin) {
  // 1. the template is checked before the user is looked up
  const urlTemplate = medium.kind === "link" ? medium.urlTemplate : undefined;
  if (urlTemplate !== undefined) checkTemplate(urlTemplate);
  // 2. a fresh code, kept only encrypted
  const code = generateCode(deps.codes.length);
  const now = deps.clock();
  const cmd: RequestPasswordReset = {
    principal,
    userId,
    encryptedCode: deps.cipher.encrypt(code),
    expiresAt: now.getTime() + deps.codes.ttlMs,
    medium: medium.kind === "link" ? medium.medium : "email",
    ...(urlTemplate !== undefined && { urlTemplate }),
    ...(medium.kind === "default" && medium.linkParams && { linkParams: medium.linkParams }),
    returnCode: medium.kind === "return",
    ...(origin && { origin }),
  };
  // 3. existence, permission, event
  const { state, stored } = await execute(deps.aggregates, userRef(userId), userModel, (s) => ({
    events: decidePasswordReset(s, cmd),
  }));
  const details = detailsOf(stored[stored.length - 1]!, state.createdAt);
  return { details, ...(medium.kind === "return" && { code }) };
}

function checkTemplate(template: string): void {
  try {
    checkUrlTemplate(template);
  } catch (err) {
    if (!(err instanceof UrlTemplateError)) throw err;
    if (err.problem === "scheme") {
      throw invalidArgument("DOMAIN-Lk7sc", "Errors.User.InvalidURLTemplate", `The URL template is not allowed: ${err.message}`);
    }
    throw invalidArgument("DOMAIN-oGh5e", "Errors.User.InvalidURLTemplate", `The URL template is invalid: ${err.message}`);
  }
}
