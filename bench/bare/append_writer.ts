/**
 * The bare append server's writer thread: one SQLite connection (WAL,
 * synchronous=FULL, as latchkey's), one transaction with its fsync for all
 * the batches that arrived while the previous one committed.
 */
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

export interface AppendBatch {
  batch: number;
  users: string[];
}
export interface Appended {
  batch: number;
  /** per user of the batch, in order: the event's sequence in that user's stream and its time (ms) */
  sequences: number[];
  createdAt: number;
}

const db = new Database((workerData as { file: string }).file);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.exec(`CREATE TABLE IF NOT EXISTS events (
  position INTEGER PRIMARY KEY AUTOINCREMENT,
  aggregate_id TEXT NOT NULL,
  sequence INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  payload TEXT NOT NULL,
  UNIQUE (aggregate_id, sequence)
)`);
const insert = db.prepare("INSERT INTO events (aggregate_id, sequence, created_at, payload) VALUES (?, ?, ?, ?)");
const last = db.prepare("SELECT max(sequence) AS sequence FROM events WHERE aggregate_id = ?");
const sequences = new Map<string, number>();

let queued: AppendBatch[] = [];
const commit = db.transaction((batches: AppendBatch[], createdAt: number) =>
  batches.map((b) => ({
    batch: b.batch,
    createdAt,
    sequences: b.users.map((user) => {
      const sequence = (sequences.get(user) ?? ((last.get(user) as { sequence: number | null }).sequence ?? 0)) + 1;
      insert.run(user, sequence, createdAt, JSON.stringify({ userId: user, type: "user.human.password.code.added" }));
      sequences.set(user, sequence);
      return sequence;
    }),
  })),
);

parentPort!.on("message", (batch: AppendBatch) => {
  if (queued.length === 0) setImmediate(flush);
  queued.push(batch);
});

function flush(): void {
  const batches = queued;
  queued = [];
  for (const done of commit(batches, Date.now())) parentPort!.postMessage(done satisfies Appended);
}
