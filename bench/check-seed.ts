/**
 * Checks that users written straight into SQLite (seedDirect, used for the
 * 1,000,000-user store) look to latchkey like users added through the API:
 * prints both users' events side by side, and calls the API on the direct ones.
 * Usage: npx tsx bench/check-seed.ts
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { REPO, startLatchkey, seedViaApi, seedDirect } from "./lib/latchkey.js";
import { freePort } from "./lib/util.js";
fs.mkdirSync(path.join(REPO, "bench/tmp"), { recursive: true });
const dir = fs.mkdtempSync(path.join(REPO, "bench/tmp/seedcheck-"));
let server = await startLatchkey({ dataDir: dir, port: await freePort() });
const api = await seedViaApi(server, 2);
await server.stop();
const direct = seedDirect(dir, 2, 2);
server = await startLatchkey({ dataDir: dir, port: await freePort() });
// a directly seeded user works through the API
const res = await fetch(`${server.url}/v2/users/${direct[0]}`, { headers: { authorization: `Bearer ${server.token}` } });
console.log("GetUserByID direct:", res.status, (await res.text()).slice(0, 300));
const res2 = await fetch(`${server.url}/v2/users/${direct[1]}/password_reset`, { method: "POST", headers: { authorization: `Bearer ${server.token}` }, body: '{"returnCode":{}}' });
console.log("PasswordReset direct:", res2.status, await res2.text());
const dup = await fetch(`${server.url}/zitadel.user.v2.UserService/AddHumanUser`, { method: "POST", headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" }, body: JSON.stringify({ username: "bench-user-3", profile: { givenName: "a", familyName: "b" }, email: { email: "x@example.com" } }) });
console.log("AddHumanUser duplicate username of a direct user:", dup.status, (await dup.text()).slice(0, 120));
await server.stop();
const db = new Database(path.join(dir, "latchkey.db"), { readonly: true });
for (const id of [api[1], direct[1]]) console.log(db.prepare("select aggregate_type, sequence, event_type, payload, resource_owner, editor, instance_id from events where aggregate_id=? order by sequence").all(id));
console.log(db.prepare("select * from unique_constraints where kind='username'").all());
console.log(db.prepare("select * from lookups").all());
console.log(db.prepare("select * from notification_checkpoints").all(), db.prepare("select max(position) m from events").get());
db.close();
fs.rmSync(dir, { recursive: true, force: true });
