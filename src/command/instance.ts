/**
 * The instance: created on first start with a default organization and an
 * admin machine user, plus the operator commands that add organizations,
 * machine users and tokens, and unlock or reactivate users (an administrator
 * locked out included).
 */
import { newId } from "../crypto/ids.js";
import { generateToken, hashToken } from "../crypto/tokens.js";
import { alreadyExists, invalidArgument, notFound } from "../errors/errors.js";
import { ConcurrencyError, UniqueConstraintError, type EventStore } from "../eventstore/eventstore.js";
import type { Aggregates } from "./aggregates.js";
import { execute } from "./execute.js";
import { ORG_AGGREGATE, OrgEvents, foldOrg, orgModel } from "./org/events.js";
import { OPERATOR, type Principal } from "./permissions.js";
import { usernameConstraint } from "./user/commands.js";
import { decideReactivate, decideUnlock } from "./user/decide.js";
import { USER_AGGREGATE, UserEvents, foldUser, userModel, type Role } from "./user/events.js";

export const INSTANCE_AGGREGATE = "instance";
export const INSTANCE_ID = "default";
const InstanceEvents = { added: "instance.added" } as const;
const SYSTEM = "system";

const patConstraint = (token: string) => patHashConstraint(hashToken(token));
const patHashConstraint = (tokenHash: string) => ({ kind: "pat", value: tokenHash });

export interface CreatedInstance {
  orgId: string;
  adminUserId: string;
  adminToken: string;
}

/** Creates the instance unless it exists; returns what was created, or undefined. */
export async function setupInstance(store: EventStore): Promise<CreatedInstance | undefined> {
  const instance = { type: INSTANCE_AGGREGATE, id: INSTANCE_ID };
  if ((await store.readAggregate(instance)).length > 0) return undefined;
  const orgId = newId();
  const adminUserId = newId();
  const adminToken = generateToken();
  const event = (type: string, payload: Record<string, unknown>) => ({ type, payload, editor: SYSTEM });
  const writes = [
    { aggregate: instance, resourceOwner: orgId, expectedSequence: 0, events: [event(InstanceEvents.added, { defaultOrgId: orgId })] },
    { aggregate: { type: ORG_AGGREGATE, id: orgId }, resourceOwner: orgId, expectedSequence: 0, events: [event(OrgEvents.added, { name: "default" })] },
    {
      aggregate: { type: USER_AGGREGATE, id: adminUserId },
      resourceOwner: orgId,
      expectedSequence: 0,
      events: [
        event(UserEvents.machineAdded, { username: "admin", name: "admin", description: "instance administrator", role: "IAM_OWNER" }),
        event(UserEvents.patAdded, { tokenId: newId() }),
      ],
      addUnique: [usernameConstraint(orgId, "admin"), patConstraint(adminToken)],
    },
  ];
  try {
    await store.append(writes);
  } catch (err) {
    // another instance on the same database created it first
    if (err instanceof ConcurrencyError) return undefined;
    throw err;
  }
  return { orgId, adminUserId, adminToken };
}

/** The id of the organization created with the instance ("" before setup). */
export async function readDefaultOrgId(store: EventStore): Promise<string> {
  const [added] = await store.readAggregate({ type: INSTANCE_AGGREGATE, id: INSTANCE_ID });
  return added ? String(added.payload["defaultOrgId"]) : "";
}

/** The principal behind a token, or undefined for an unknown or revoked token. */
/** The principal of a personal access token, by the token's hash. */
export async function authenticate(store: EventStore, tokenHash: string): Promise<Principal | undefined> {
  const userId = await store.findUnique(patHashConstraint(tokenHash));
  if (userId === undefined) return undefined;
  const user = foldUser(await store.readAggregate({ type: USER_AGGREGATE, id: userId }));
  if (!user.exists || user.kind !== "machine" || user.state !== "active" || !user.role) return undefined;
  return { userId, orgId: user.orgId, role: user.role };
}

/** The operator's commands (the CLI's), on the given aggregates. */
export function createOperatorCommands(aggregates: Aggregates) {
  const { store } = aggregates;
  const event = (type: string, payload: Record<string, unknown>) => [{ type, payload, editor: SYSTEM }];

  async function addOrg(name: string): Promise<string> {
    if (name.trim() === "") throw invalidArgument("INSTANCE-n4Me0", "Errors.Org.Invalid", "Organization name must not be empty");
    const orgId = newId();
    await execute(aggregates, { type: ORG_AGGREGATE, id: orgId }, orgModel, () => ({
      events: event(OrgEvents.added, { name }),
      resourceOwner: orgId,
    }));
    return orgId;
  }

  async function addMachineUser(orgId: string, username: string, role: Role): Promise<string> {
    const org = foldOrg(await store.readAggregate({ type: ORG_AGGREGATE, id: orgId }));
    if (!org.exists) throw notFound("INSTANCE-0rg4f", "Errors.Org.NotFound", "Organization could not be found");
    const userId = newId();
    try {
      await execute(aggregates, { type: USER_AGGREGATE, id: userId }, userModel, () => ({
        events: event(UserEvents.machineAdded, { username, name: username, description: "", role }),
        resourceOwner: orgId,
        addUnique: [usernameConstraint(orgId, username)],
      }));
    } catch (err) {
      if (err instanceof UniqueConstraintError) {
        throw alreadyExists("INSTANCE-Mu3x1", "Errors.User.AlreadyExists", "A user with this username already exists in the organization");
      }
      throw err;
    }
    return userId;
  }

  async function addToken(userId: string): Promise<string> {
    const token = generateToken();
    await execute(aggregates, { type: USER_AGGREGATE, id: userId }, userModel, (user) => {
      if (!user.exists || user.kind !== "machine" || user.state === "deleted") {
        throw notFound("INSTANCE-Tk9u2", "Errors.User.NotFound", "Machine user could not be found");
      }
      return { events: event(UserEvents.patAdded, { tokenId: newId() }), addUnique: [patConstraint(token)] };
    });
    return token;
  }

  /** Unlocks or reactivates a user as the operator: any user, whatever its role. */
  function restore(decide: typeof decideUnlock) {
    return async (userId: string): Promise<{ userId: string; state: string }> => {
      await execute(aggregates, { type: USER_AGGREGATE, id: userId }, userModel, (user) => ({ events: decide(user, OPERATOR, userId) }));
      return { userId, state: foldUser(await store.readAggregate({ type: USER_AGGREGATE, id: userId })).state };
    };
  }

  return { addOrg, addMachineUser, addToken, unlockUser: restore(decideUnlock), reactivateUser: restore(decideReactivate) };
}
