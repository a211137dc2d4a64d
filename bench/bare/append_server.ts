/**
 * The floor under latchkey's PasswordReset: `zitadel.user.v2.UserService/PasswordReset`
 * served by connect-node alone, whose handler appends one event for the user
 * durably and answers with its `details`. The append goes to a writer thread
 * (bench/bare/append_writer.ts) that commits what arrived meanwhile in one
 * transaction, with SQLite's WAL and synchronous=FULL as latchkey's store. No
 * user lookup, no code, no encryption, no authentication, validation, rate
 * limits or logging: what a durable reset costs on this stack before any of
 * latchkey's own work. h2c and HTTP/1.1 on one port, from one thread or from
 * `threads` threads sharing it and the one writer (see listen.ts).
 *
 *   node --import tsx bench/bare/append_server.ts <port> [threads]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { MessageChannel, Worker, isMainThread, type MessagePort } from "node:worker_threads";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { UserService, PasswordResetResponseSchema } from "../../gen/zitadel/user/v2/user_service_pb.js";
import { DetailsSchema } from "../../gen/zitadel/object/v2/object_pb.js";
import type { AppendBatch, Appended, WriterPort } from "./append_writer.js";
import { listenBoth, servingArguments } from "./listen.js";

const serving = servingArguments("append_server.ts <port> [threads]");
const fromSource = import.meta.url.endsWith(".ts");
// the main thread starts the writer; the other serving threads get a port to it
const dir = isMainThread ? fs.mkdtempSync(path.join(os.tmpdir(), "bare-append-")) : "";
const writer: Worker | MessagePort = isMainThread
  ? new Worker(new URL(`./append_writer.${fromSource ? "ts" : "js"}`, import.meta.url), {
      workerData: { file: path.join(dir, "events.db") },
      execArgv: fromSource ? ["--import", "tsx"] : [],
    })
  : (serving.data as { writer: MessagePort }).writer;

// the appends of one turn of the event loop go to the writer in one message
interface Pending {
  users: string[];
  answers: ((appended: { sequence: number; createdAt: number }) => void)[];
}
let pending: Pending | undefined;
const waiting = new Map<number, (appended: Appended) => void>();
let nextBatch = 1;
writer.on("message", (done: Appended) => {
  waiting.get(done.batch)?.(done);
  waiting.delete(done.batch);
});

function append(user: string): Promise<{ sequence: number; createdAt: number }> {
  if (!pending) {
    const batch: Pending = { users: [], answers: [] };
    pending = batch;
    setImmediate(() => {
      pending = undefined;
      const id = nextBatch++;
      waiting.set(id, (done) => batch.answers.forEach((answer, i) => answer({ sequence: done.sequences[i]!, createdAt: done.createdAt })));
      writer.postMessage({ batch: id, users: batch.users } satisfies AppendBatch);
    });
  }
  const batch = pending;
  batch.users.push(user);
  return new Promise((resolve) => batch.answers.push(resolve));
}

const handler = connectNodeAdapter({
  routes: (router: ConnectRouter) =>
    router.service(UserService, {
      async passwordReset(request) {
        const { sequence, createdAt } = await append(request.userId);
        return create(PasswordResetResponseSchema, {
          details: create(DetailsSchema, { sequence: BigInt(sequence), changeDate: timestampFromMs(createdAt), resourceOwner: "bare" }),
        });
      },
    }),
});
await listenBoth(handler, serving, "bare connect-node append", {
  script: import.meta.url,
  threadData: () => {
    const { port1, port2 } = new MessageChannel();
    writer.postMessage({ port: port1 } satisfies WriterPort, [port1]);
    return { data: { writer: port2 }, transfer: [port2] };
  },
  onStop: () => void (writer as Worker).terminate().then(() => fs.rmSync(dir, { recursive: true, force: true })),
});
