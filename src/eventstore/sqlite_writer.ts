/**
 * The SQLite event store's writer: a worker thread that owns the one write
 * connection, so that no transaction and no fsync ever runs on a thread that
 * serves requests. Appends that arrive while a commit is under way go
 * together in the next transaction (group commit); an append's conflict undoes
 * only its own rows; callers hear back after the commit that holds their events.
 *
 * It imports no module of ours at run time (types only), so Node runs it as
 * it is, from src/ under the tests as from dist/.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import Database from "better-sqlite3";
import type { AggregateAt, AggregateWrite, UniqueConstraint } from "./eventstore.js";

export interface WriterOptions {
  readonly file: string;
  readonly instanceId: string;
  readonly synchronous: "FULL" | "NORMAL";
  readonly busyTimeoutMs: number;
}

/** One append: its writes and the time its events are stored with. */
export interface AppendRequest {
  readonly writes: readonly AggregateWrite[];
  readonly createdAt: number;
}

/** A rate limit counter (see src/ratelimit/store.ts), saved in the table rate_limits. */
export interface CounterRow {
  readonly key: string;
  readonly points: number;
  readonly expire: number;
}

export type WriterRequest =
  | { kind: "append"; id: number; appends: readonly AppendRequest[] }
  | { kind: "counters"; id: number; counters: readonly CounterRow[]; now: number }
  /** another thread's port: its event store appends through it (close comes from the parent only) */
  | { kind: "attach"; port: MessagePort }
  /** from now on, tell this port of the aggregates that appends from other ports changed */
  | { kind: "watch" }
  | { kind: "close" };

/** A domain error as data: the event store turns it back into ConcurrencyError or UniqueConstraintError. */
export type WriteConflict =
  | { kind: "concurrency"; aggregate: { type: string; id: string }; expectedSequence: number; actualSequence: number }
  | { kind: "unique"; constraint: UniqueConstraint };

/** The positions of an append's events, in the order given; the caller knows the rest of each event. */
export type AppendOutcome = { positions: number[] } | { conflict: WriteConflict };

export type WriterReply =
  | { kind: "ready" }
  | { kind: "appended"; id: number; outcomes: AppendOutcome[] }
  | { kind: "saved"; id: number }
  | { kind: "failed"; id: number; message: string; code?: string }
  /** after a commit, to a watching port: what the commit's appends from other ports changed */
  | { kind: "others"; appended: AggregateAt[] }
  | { kind: "closed" };

class Conflict extends Error {
  readonly conflict: WriteConflict;
  constructor(conflict: WriteConflict) {
    super(conflict.kind);
    this.conflict = conflict;
  }
}

function openWriter(options: WriterOptions) {
  if (options.synchronous !== "FULL" && options.synchronous !== "NORMAL") throw new Error("unsupported synchronous mode");
  const db = new Database(options.file, { timeout: options.busyTimeoutMs });
  // the file is already in WAL mode: the event store set it before starting this thread
  db.pragma(`synchronous = ${options.synchronous}`);
  db.pragma("foreign_keys = ON");
  const instanceId = options.instanceId;
  const stmt = {
    maxSequence: db
      .prepare<[string, string, string], number>(
        "SELECT coalesce(max(sequence), 0) FROM events WHERE instance_id = ? AND aggregate_type = ? AND aggregate_id = ?",
      )
      .pluck(),
    insertEvent: db.prepare(
      `INSERT INTO events (instance_id, aggregate_type, aggregate_id, sequence, event_type, payload, created_at, resource_owner, editor)
       VALUES (@instance_id, @aggregate_type, @aggregate_id, @sequence, @event_type, @payload, @created_at, @resource_owner, @editor)`,
    ),
    insertUnique: db.prepare("INSERT INTO unique_constraints (instance_id, kind, value, aggregate_id) VALUES (?, ?, ?, ?)"),
    deleteUnique: db.prepare("DELETE FROM unique_constraints WHERE instance_id = ? AND kind = ? AND value = ?"),
    insertLookup: db.prepare("INSERT OR IGNORE INTO lookups (instance_id, kind, value, aggregate_id) VALUES (?, ?, ?, ?)"),
    deleteLookup: db.prepare("DELETE FROM lookups WHERE instance_id = ? AND kind = ? AND value = ? AND aggregate_id = ?"),
    saveSnapshot: db.prepare(
      `INSERT INTO snapshots (instance_id, aggregate_type, aggregate_id, model, sequence, state) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (instance_id, aggregate_type, aggregate_id, model)
       DO UPDATE SET sequence = excluded.sequence, state = excluded.state WHERE sequence < excluded.sequence`,
    ),
  };

  const currentSequence = (write: AggregateWrite) => stmt.maxSequence.get(instanceId, write.aggregate.type, write.aggregate.id) ?? 0;
  const concurrency = (write: AggregateWrite): WriteConflict => ({
    kind: "concurrency",
    aggregate: { type: write.aggregate.type, id: write.aggregate.id },
    expectedSequence: write.expectedSequence,
    actualSequence: currentSequence(write),
  });

  function appendWrite(write: AggregateWrite, createdAt: number): number[] {
    const { aggregate, expectedSequence } = write;
    if (currentSequence(write) !== expectedSequence) throw new Conflict(concurrency(write));
    const positions = write.events.map((event, i): number => {
      const row = {
        instance_id: instanceId,
        aggregate_type: aggregate.type,
        aggregate_id: aggregate.id,
        sequence: expectedSequence + i + 1,
        event_type: event.type,
        payload: JSON.stringify(event.payload),
        created_at: createdAt,
        resource_owner: write.resourceOwner,
        editor: event.editor,
      };
      return Number(orConflict(() => stmt.insertEvent.run(row), () => concurrency(write)).lastInsertRowid);
    });
    // removals first, so a write that removes and re-adds the same value succeeds
    for (const unique of write.removeUnique ?? []) stmt.deleteUnique.run(instanceId, unique.kind, unique.value);
    for (const unique of write.addUnique ?? []) {
      orConflict(
        () => stmt.insertUnique.run(instanceId, unique.kind, unique.value, aggregate.id),
        () => ({ kind: "unique", constraint: { kind: unique.kind, value: unique.value } }),
      );
    }
    for (const lookup of write.removeLookup ?? []) stmt.deleteLookup.run(instanceId, lookup.kind, lookup.value, aggregate.id);
    for (const lookup of write.addLookup ?? []) stmt.insertLookup.run(instanceId, lookup.kind, lookup.value, aggregate.id);
    const snapshot = write.snapshot;
    if (snapshot) {
      stmt.saveSnapshot.run(instanceId, aggregate.type, aggregate.id, snapshot.model, snapshot.sequence, Buffer.from(snapshot.state));
    }
    return positions;
  }

  const appendAll = (append: AppendRequest): number[] => append.writes.flatMap((write) => appendWrite(write, append.createdAt));
  // A savepoint undoes an append's own rows when it conflicts after writing some.
  // One write that claims no unique value conflicts only at its sequence check,
  // before it writes anything, so it goes without one (a savepoint pair costs
  // more than the append's insert).
  const appendInSavepoint = db.transaction(appendAll);
  const mayConflictAfterWriting = (append: AppendRequest) => append.writes.length > 1 || (append.writes[0]?.addUnique?.length ?? 0) > 0;
  const commitGroup = db.transaction((appends: readonly AppendRequest[]): AppendOutcome[] =>
    appends.map((append) => {
      try {
        return { positions: mayConflictAfterWriting(append) ? appendInSavepoint(append) : appendAll(append) };
      } catch (err) {
        if (err instanceof Conflict) return { conflict: err.conflict };
        throw err;
      }
    }),
  );
  const saveCounter = db.prepare(
    `INSERT INTO rate_limits (key, points, expire) VALUES (?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET points = excluded.points, expire = excluded.expire`,
  );
  const dropExpired = db.prepare("DELETE FROM rate_limits WHERE expire < ?");
  const saveCounters = db.transaction((counters: readonly CounterRow[], now: number) => {
    for (const c of counters) saveCounter.run(c.key, c.points, c.expire);
    dropExpired.run(now);
  });
  return {
    commit: (appends: readonly AppendRequest[]) => commitGroup.immediate(appends),
    saveCounters: (counters: readonly CounterRow[], now: number) => saveCounters.immediate(counters, now),
    close: () => db.close(),
  };
}

function orConflict(insert: () => Database.RunResult, conflict: () => WriteConflict): Database.RunResult {
  try {
    return insert();
  } catch (err) {
    const code = err instanceof Database.SqliteError ? err.code : "";
    if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") throw new Conflict(conflict());
    throw err;
  }
}

type Queued<K extends WriterRequest["kind"]> = { request: Extract<WriterRequest, { kind: K }>; port: MessagePort };

/**
 * Serves the thread's parent and every port attached later (another thread's
 * event store). Each request is answered on the port it came from.
 */
function serve(): void {
  const writer = openWriter(workerData as WriterOptions);
  const ports = new Set<MessagePort>();
  const watchers = new Set<MessagePort>();
  let appends: Queued<"append">[] = [];
  let counters: Queued<"counters">[] = [];
  let closing = false;
  let scheduled = false;
  const reply = (port: MessagePort, message: WriterReply) => port.postMessage(message);
  const failure = (err: unknown) => ({
    message: err instanceof Error ? err.message : String(err),
    ...(err instanceof Database.SqliteError && { code: err.code }),
  });

  // every request that arrived during the last commit goes into the next one
  const flush = () => {
    scheduled = false;
    const group = appends;
    appends = [];
    if (group.length > 0) commitAppends(group);
    for (const { request, port } of counters.splice(0)) {
      try {
        writer.saveCounters(request.counters, request.now);
        reply(port, { kind: "saved", id: request.id });
      } catch (err) {
        reply(port, { kind: "failed", id: request.id, ...failure(err) });
      }
    }
    if (closing) {
      writer.close();
      reply(parentPort!, { kind: "closed" });
      for (const port of ports) port.close();
      parentPort!.close();
    }
  };

  const commitAppends = (group: readonly Queued<"append">[]) => {
    try {
      const outcomes = writer.commit(group.flatMap((q) => q.request.appends));
      let from = 0;
      for (const { request, port } of group) {
        const to = from + request.appends.length;
        reply(port, { kind: "appended", id: request.id, outcomes: outcomes.slice(from, to) });
        from = to;
      }
      if (watchers.size > 0) tellWatchers(group, outcomes);
    } catch (err) {
      for (const { request, port } of group) reply(port, { kind: "failed", id: request.id, ...failure(err) });
    }
  };

  // after the answers, so that a thread hears of its own appends first
  const tellWatchers = (group: readonly Queued<"append">[], outcomes: readonly AppendOutcome[]) => {
    const byPort = new Map<MessagePort, AggregateAt[]>();
    let i = 0;
    for (const { request, port } of group) {
      for (const append of request.appends) {
        if (!("positions" in outcomes[i++]!)) continue;
        let appended = byPort.get(port);
        if (!appended) byPort.set(port, (appended = []));
        for (const write of append.writes) {
          appended.push({ type: write.aggregate.type, id: write.aggregate.id, sequence: write.expectedSequence + write.events.length });
        }
      }
    }
    for (const watcher of watchers) {
      const appended = [...byPort].flatMap(([port, list]) => (port === watcher ? [] : list));
      if (appended.length > 0) reply(watcher, { kind: "others", appended });
    }
  };

  const listen = (port: MessagePort) => {
    port.on("message", (request: WriterRequest) => {
      switch (request.kind) {
        case "close":
          closing = true;
          break;
        case "attach":
          ports.add(request.port);
          listen(request.port);
          return;
        case "watch":
          watchers.add(port);
          port.once("close", () => watchers.delete(port));
          return;
        case "counters":
          counters.push({ request, port });
          break;
        case "append":
          appends.push({ request, port });
      }
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  };
  listen(parentPort!);
  reply(parentPort!, { kind: "ready" });
}

if (parentPort && (workerData as { latchkeyWriter?: boolean } | undefined)?.latchkeyWriter) serve();
