import type { PasswordOwner } from "../password_rules/new_password.js";
import type { HumanProfile, UserState } from "./events.js";

export function personOf(username: string, email: string, profile: HumanProfile) {
  return { username, email, givenName: profile.givenName, familyName: profile.familyName };
}

/** What the password rules need of a user. */
export function ownerOf(user: UserState): PasswordOwner {
  const human = user.human;
  return {
    person: personOf(user.username, human?.email.address ?? "", human?.profile ?? { givenName: "", familyName: "" }),
    history: user.passwordHistory ?? [],
  };
}
