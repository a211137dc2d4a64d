import { Writable } from "node:stream";
import { setImmediate as nextTurn } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { accessLogger, createLogger, lineRelay } from "../src/logger.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: createLogger({ destination }) };
}

describe("the logger", () => {
  it("redacts the fields that may hold a secret, at the top and one level down", () => {
    const { lines, logger } = capture();
    logger.info({ token: "t0k3n", user: { password: "Hunter-22", name: "ada" }, code: "K7Q2ZP" }, "x");
    expect(lines[0]).toMatchObject({ token: "[redacted]", code: "[redacted]", user: { password: "[redacted]", name: "ada" } });
  });

  it("keeps its bindings on the access logger, which does not walk the line for secrets but still scrubs URL passwords", () => {
    const { lines, logger } = capture();
    const access = accessLogger(logger.child({ worker: 2 }));
    access.info({ requestId: "r1", method: "m", error: "fetch https://ops:s3cret@mail.example.com failed" }, "call");
    expect(lines[0]).toMatchObject({ service: "latchkey", worker: 2, requestId: "r1", msg: "call" });
    expect(lines[0]!.error).toBe("fetch https://ops:[redacted]@mail.example.com failed");
    // the parent still redacts
    logger.info({ token: "t0k3n" }, "y");
    expect(lines[1]!.token).toBe("[redacted]");
  });
});

describe("lineRelay", () => {
  it("sends the lines of one turn of the event loop in one message, in order", async () => {
    const sent: string[] = [];
    const relay = lineRelay((text) => sent.push(text));
    const logger = createLogger({ destination: relay.stream });
    logger.info("one");
    logger.info("two");
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.split("\n").map((l) => (l ? (JSON.parse(l) as { msg: string }).msg : l))).toEqual(["one", "two", ""]);
    logger.info("three");
    await nextTurn();
    expect(sent).toHaveLength(2);
  });

  it("sends what is pending at once on flush, and nothing twice", async () => {
    const sent: string[] = [];
    const relay = lineRelay((text) => sent.push(text));
    const logger = createLogger({ destination: relay.stream });
    logger.warn("before stopping");
    relay.flush();
    expect(sent).toHaveLength(1);
    expect(sent[0]).toContain("before stopping");
    await nextTurn();
    relay.flush();
    expect(sent).toHaveLength(1);
  });
});
