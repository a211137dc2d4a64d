/**
 * `npm run bench:writer [-- --rounds 5 --appends 12800]`: the CPU the SQLite
 * event store's writer thread spends per append, for groups of 1, 4 and 16
 * appends (what arrives while a commit runs), each append one PasswordReset's
 * write (one event, no unique value). The store is the real one on a file in
 * a temporary directory; the appends of a group are made in one turn of the
 * event loop, so they reach the writer in one message and one transaction.
 *
 * The figure is the process's CPU time minus this thread's: the writer's
 * statements, commit and fsync, and its messages. Unlike a throughput run it
 * holds still from run to run, so it shows a change to the writer on its own.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { openSqliteEventStore } from "../src/eventstore/sqlite.js";
import type { AggregateWrite } from "../src/eventstore/eventstore.js";
import { median } from "./lib/util.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "5" }, appends: { type: "string", default: "12800" } } });
const rounds = Number(values.rounds);
const appendsPerRun = Number(values.appends);
const GROUPS = [1, 4, 16];
const USERS = 1000;
const WARM_UP_APPENDS = 2000;

/** A PasswordReset's write: the payload of a code sent by email, as the command makes it. */
function resetWrite(user: string, expectedSequence: number): AggregateWrite {
  return {
    aggregate: { type: "user", id: user },
    resourceOwner: "org",
    expectedSequence,
    events: [
      {
        type: "user.human.password.code.added",
        payload: { code: "v1.0123456789abcdef.AAAAAAAAAAAAAAAA.BBBBBBBBBBBB.CCCCCCCCCCCCCCCCCCCCCC", expiresAt: 0, medium: "email", returnCode: false, origin: { clientIp: "127.0.0.1" } },
        editor: "admin",
      },
    ],
  };
}

/** Microseconds of the other threads' CPU per append over `count` appends in groups of `group`. */
async function measure(group: number, count: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "latchkey-writer-"));
  const store = openSqliteEventStore({ file: path.join(dir, "latchkey.db") });
  try {
    await store.writerReady;
    const sequences = new Map<string, number>();
    let next = 0;
    const appendGroups = async (appends: number) => {
      for (let done = 0; done < appends; done += group) {
        await Promise.all(
          Array.from({ length: group }, () => {
            const user = `user-${next++ % USERS}`;
            const expected = sequences.get(user) ?? 0;
            sequences.set(user, expected + 1);
            return store.append([resetWrite(user, expected)]);
          }),
        );
      }
    };
    await appendGroups(WARM_UP_APPENDS);
    const process0 = process.cpuUsage();
    const thread0 = process.threadCpuUsage();
    await appendGroups(count);
    const all = process.cpuUsage(process0);
    const own = process.threadCpuUsage(thread0);
    return (all.user + all.system - own.user - own.system) / count;
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// a user gets at most one append per group: users repeat only after USERS appends
if (Math.max(...GROUPS) > USERS) throw new Error("groups larger than the users");
const results = new Map<number, number[]>(GROUPS.map((g) => [g, []]));
for (let round = 0; round < rounds; round++) {
  for (const group of round % 2 ? [...GROUPS].reverse() : GROUPS) {
    const us = await measure(group, appendsPerRun - (appendsPerRun % group));
    results.get(group)!.push(us);
    console.error(`round ${round + 1}: groups of ${group}: ${us.toFixed(1)} µs per append`);
  }
}
console.log("| appends per group | writer CPU µs per append (median) | rounds |");
console.log("| ---: | ---: | --- |");
for (const [group, runs] of results) {
  console.log(`| ${group} | ${median(runs).toFixed(1)} | ${runs.map((us) => us.toFixed(1)).join(" / ")} |`);
}
