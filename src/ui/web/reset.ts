/// <reference lib="dom" />
/**
 * Script of the hosted reset page, bundled into dist/ui/reset.js. Reads the
 * user id and code from the query string and calls SetPassword over gRPC-web.
 */
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { UserService } from "../../../gen/zitadel/user/v2/user_service_pb.js";
import { ErrorDetailSchema } from "../../../gen/zitadel/v1/message_pb.js";
import { SetPasswordErrorIds as Ids } from "../../command/user/set_password_errors.js";

type State = "success" | "wrong-code" | "expired" | "too-many-attempts" | "used" | "locked" | "failed";

/** Errors after which this link cannot work any more; the form goes away. */
const LINK_STATES: Record<string, State> = {
  [Ids.codeInvalid]: "wrong-code",
  [Ids.codeExpired]: "expired",
  [Ids.codeTooManyAttempts]: "too-many-attempts",
  [Ids.codeNotFound]: "used",
  [Ids.userLocked]: "locked",
};

/** A refused password: the message names every rule it breaks, and the user can try another. */
const PASSWORD_RULE_IDS: ReadonlySet<string> = new Set([
  Ids.policyNotMet,
  Ids.passwordReused,
  Ids.passwordCommon,
  Ids.passwordBreached,
  Ids.passwordPersonalData,
  Ids.passwordTooWeak,
]);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T | null;

function show(state: State | undefined): void {
  document.querySelectorAll<HTMLElement>("[data-state]").forEach((section) => {
    section.hidden = section.dataset["state"] !== state;
  });
}

function formError(message: string | undefined): void {
  const box = $("form-error")!;
  box.textContent = message ?? "";
  box.hidden = message === undefined;
  $("new-password")!.setAttribute("aria-invalid", String(message !== undefined));
}

function start(form: HTMLFormElement): void {
  const query = new URLSearchParams(location.search);
  const userId = query.get("userID") ?? "";
  const code = query.get("code") ?? "";
  // the page lives at <base>/ui/login/password/init; the API at <base>/
  const baseUrl = new URL("../../../", location.href).href.replace(/\/$/, "");
  const users = createClient(UserService, createGrpcWebTransport({ baseUrl, useBinaryFormat: true }));
  const password = $<HTMLInputElement>("new-password")!;
  const confirmation = $<HTMLInputElement>("confirm-password")!;
  const button = $<HTMLButtonElement>("submit")!;

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show(undefined);
    if (password.value === "") return formError("Enter a new password.");
    if (password.value !== confirmation.value) return formError("The two passwords do not match.");
    formError(undefined);
    button.disabled = true;
    button.textContent = "Setting password…";
    users
      .setPassword({
        userId,
        newPassword: { password: password.value, changeRequired: false },
        verification: { case: "verificationCode", value: code },
      })
      .then(
        () => {
          form.hidden = true;
          show("success");
        },
        (err: unknown) => {
          const error = ConnectError.from(err);
          const id = error.findDetails(ErrorDetailSchema)[0]?.id ?? "";
          const linkState = LINK_STATES[id];
          if (linkState) {
            form.hidden = true;
            show(linkState);
          } else if (PASSWORD_RULE_IDS.has(id)) {
            formError(error.rawMessage.replace(/\s*\([^)]*\)$/, "") + ".");
            password.focus();
          } else {
            show("failed");
          }
        },
      )
      .finally(() => {
        button.disabled = false;
        button.textContent = "Set new password";
      });
  });
}

const form = $<HTMLFormElement>("reset-form");
if (form) start(form);
