/** The event store's lookups, which find users by email address, and their backfill for users created before them. */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { emailLookup } from "../src/command/user/commands.js";
import { openSqliteEventStore, type SqliteEventStore } from "../src/eventstore/sqlite.js";
import { migrateSqlite, sqliteMigrations } from "../src/eventstore/sqlite_migrations.js";
import { tempDir } from "./support/server.js";

let dir: string;
let file: string;
let store: SqliteEventStore | undefined;

beforeEach(() => {
  dir = tempDir("latchkey-lookup-");
  file = path.join(dir, "latchkey.db");
});

afterEach(async () => {
  await store?.close();
  store = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const event = (type: string, payload: Record<string, unknown> = {}) => ({ type, payload, editor: "system" });
const LOOKUP = { kind: "email", value: "1:ada@example.com" };

describe("lookups", () => {
  it("lead to every aggregate holding the value, written with the events", async () => {
    store = openSqliteEventStore({ file });
    const write = (id: string, expectedSequence: number, lookups: object) =>
      store!.append([{ aggregate: { type: "user", id }, resourceOwner: "1", expectedSequence, events: [event("test")], ...lookups }]);

    expect(await store.findLookup(LOOKUP)).toEqual([]);
    await write("u2", 0, { addLookup: [LOOKUP] });
    await write("u1", 0, { addLookup: [LOOKUP, { kind: "email", value: "1:other@example.com" }] });
    expect(await store.findLookup(LOOKUP)).toEqual(["u1", "u2"]);

    // adding again changes nothing; removing takes only this aggregate's entry
    await write("u1", 1, { addLookup: [LOOKUP] });
    await write("u2", 1, { removeLookup: [LOOKUP] });
    expect(await store.findLookup(LOOKUP)).toEqual(["u1"]);
    expect(await store.findLookup({ kind: "other", value: LOOKUP.value })).toEqual([]);
  });

  it("are not written when the events are not", async () => {
    store = openSqliteEventStore({ file });
    await expect(
      store.append([{ aggregate: { type: "user", id: "u1" }, resourceOwner: "1", expectedSequence: 3, events: [event("test")], addLookup: [LOOKUP] }]),
    ).rejects.toThrow(/expected 3/);
    expect(await store.findLookup(LOOKUP)).toEqual([]);
  });
});

describe("the migration that adds lookups", () => {
  it("fills in the email addresses of users created before it, except removed ones", async () => {
    const db = new Database(file);
    migrateSqlite(db, sqliteMigrations.filter((m) => m.version < 3));
    const insert = db.prepare(
      `INSERT INTO events (instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
       VALUES ('default', 'user', ?, ?, ?, ?, 0, ?, 'system')`,
    );
    const human = (email: string) => JSON.stringify({ username: email, profile: { givenName: "A", familyName: "B" }, email: { address: email, verified: false }, passwordChangeRequired: false });
    insert.run("u1", 1, "user.human.added", human("Ada@Example.com"), "org1");
    insert.run("u2", 1, "user.human.added", human("ada@example.com"), "org2");
    insert.run("u3", 1, "user.human.added", human("ada@example.com"), "org1");
    insert.run("u3", 2, "user.removed", "{}", "org1");
    insert.run("m1", 1, "user.machine.added", JSON.stringify({ username: "bot", name: "bot", description: "", role: "ORG_OWNER" }), "org1");
    db.close();

    store = openSqliteEventStore({ file });
    expect(await store.findLookup(emailLookup("org1", "ADA@example.com"))).toEqual(["u1"]);
    expect(await store.findLookup(emailLookup("org2", "ada@EXAMPLE.com"))).toEqual(["u2"]);
    expect(store.db.prepare("SELECT count(*) FROM lookups").pluck().get()).toBe(2);
  });
});
