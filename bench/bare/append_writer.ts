/**
 * The bare append server's writer thread: one SQLite connection (WAL,
 * synchronous=FULL, as latchkey's), one transaction with its fsync for all
 * the batches that arrived while the previous one committed. Batches come
 * from the thread that started it and from every port it was sent; each
 * answer goes back the way its batch came.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import Database from "better-sqlite3";

export interface AppendBatch {
  batch: number;
  users: string[];
}
/** a serving thread's own way to the writer */
export interface WriterPort {
  port: MessagePort;
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

/** where a batch's answer goes */
interface Source {
  postMessage(done: Appended): void;
}

let queued: { batch: AppendBatch; from: Source }[] = [];
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

function receive(batch: AppendBatch, from: Source): void {
  if (queued.length === 0) setImmediate(flush);
  queued.push({ batch, from });
}

parentPort!.on("message", (message: AppendBatch | WriterPort) => {
  if ("port" in message) {
    const { port } = message;
    port.on("message", (batch: AppendBatch) => receive(batch, port));
  } else receive(message, parentPort!);
});

function flush(): void {
  const batches = queued;
  queued = [];
  const answers = commit(
    batches.map((b) => b.batch),
    Date.now(),
  );
  answers.forEach((done, i) => batches[i]!.from.postMessage(done satisfies Appended));
}
