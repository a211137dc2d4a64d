// The peer: better-auth's password-reset request (POST /api/auth/request-password-reset)
// on better-sqlite3 with latchkey's durability settings (WAL, synchronous=FULL),
// its rate limiter off and an email sender that does nothing.
//
//   node bench/peer/better-auth.mjs seed  <dir> <users>   create the schema and the users
//   node bench/peer/better-auth.mjs serve <dir> <port>    serve on 127.0.0.1:<port>
//
// Plain JavaScript run by plain node, as latchkey runs from dist/: no loader in between.
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { hashPassword } from "better-auth/crypto";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";

const [mode, dir, arg] = process.argv.slice(2);
if (!mode || !dir || !arg) {
  process.stderr.write("usage: better-auth.mjs seed <dir> <users> | serve <dir> <port>\n");
  process.exit(2);
}

function open() {
  const db = new Database(path.join(dir, "better-auth.db"), { timeout: 5000 });
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  return db;
}

function auth(db, port) {
  return betterAuth({
    database: db,
    baseURL: `http://127.0.0.1:${port}`,
    secret: "bench-secret-bench-secret-bench-secret-0123456789",
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { level: "error" },
    emailAndPassword: {
      enabled: true,
      sendResetPassword: async () => {},
    },
  });
}

export const emailOf = (i) => `bench-user-${i}@example.com`;

if (mode === "seed") {
  const count = Number(arg);
  const db = open();
  const a = auth(db, 3000);
  const { runMigrations } = await getMigrations(a.options);
  await runMigrations();
  // the first user through better-auth's own adapter, the rest as copies of its rows
  const ctx = await a.$context;
  const first = await ctx.internalAdapter.createUser({ name: "Bench User 0", email: emailOf(0), emailVerified: false });
  const passwordHash = await hashPassword("Correct-Horse-7");
  await ctx.internalAdapter.linkAccount({ userId: first.id, providerId: "credential", accountId: first.id, password: passwordHash });
  const userRow = db.prepare("SELECT * FROM user WHERE id = ?").get(first.id);
  const accountRow = db.prepare("SELECT * FROM account WHERE userId = ?").get(first.id);
  const insert = (table, row) => {
    const cols = Object.keys(row);
    return db.prepare(`INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map((c) => `@${c}`).join(", ")})`);
  };
  const insertUser = insert("user", userRow);
  const insertAccount = insert("account", accountRow);
  const id = () => crypto.randomUUID().replaceAll("-", "").slice(0, 32);
  db.transaction(() => {
    for (let i = 1; i < count; i++) {
      const userId = id();
      insertUser.run({ ...userRow, id: userId, name: `Bench User ${i}`, email: emailOf(i) });
      insertAccount.run({ ...accountRow, id: id(), userId, accountId: userId });
    }
  }).immediate();
  db.pragma("wal_checkpoint(TRUNCATE)");
  process.stdout.write(JSON.stringify({ users: db.prepare("SELECT count(*) AS n FROM user").get().n, userRow: { ...userRow, id: "…" } }) + "\n");
  db.close();
} else if (mode === "serve") {
  const port = Number(arg);
  const db = open();
  const handler = toNodeHandler(auth(db, port));
  const server = http.createServer((req, res) => void handler(req, res));
  server.keepAliveTimeout = 5000;
  server.listen(port, "127.0.0.1", () => process.stderr.write(`better-auth listening on http://127.0.0.1:${port};\n`));
  const stop = () => server.close(() => (db.close(), process.exit(0)));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}
