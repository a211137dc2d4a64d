import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { describeCauses } from "../src/errors/cause.js";
import { unavailable } from "../src/errors/errors.js";
import { toConnectError } from "../src/errors/to_connect.js";
import { databaseUnavailable } from "../src/eventstore/postgres_pool.js";

function dnsError(host: string): Error {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND", hostname: host });
}

describe("describeCauses", () => {
  it("gives what lies under the database's Unavailable", () => {
    expect(describeCauses(databaseUnavailable(dnsError("db.internal")))).toBe("getaddrinfo ENOTFOUND db.internal");
  });

  it("skips a wrapper that repeats its inner error: the wire error over ours", () => {
    const wire = toConnectError(databaseUnavailable(dnsError("db.internal")));
    expect(wire.code).toBe(Code.Unavailable);
    expect(describeCauses(wire)).toBe("getaddrinfo ENOTFOUND db.internal");
  });

  it("names every address of a refused connection", () => {
    const refused = new AggregateError([new Error("connect ECONNREFUSED ::1:5432"), new Error("connect ECONNREFUSED 127.0.0.1:5432")], "");
    expect(describeCauses(databaseUnavailable(refused))).toBe("connect ECONNREFUSED ::1:5432; connect ECONNREFUSED 127.0.0.1:5432");
  });

  it("falls back to the code of an error without a message, and joins a chain", () => {
    const inner = Object.assign(new Error(""), { code: "ECONNRESET" });
    const middle = new Error("Connection terminated unexpectedly", { cause: inner });
    expect(describeCauses(new Error("outer", { cause: middle }))).toBe("Connection terminated unexpectedly: ECONNRESET");
  });

  it("is undefined for an error without a cause", () => {
    expect(describeCauses(unavailable("X-1", "Errors.X", "no"))).toBeUndefined();
    expect(describeCauses(new ConnectError("plain"))).toBeUndefined();
    expect(describeCauses("text")).toBeUndefined();
  });

  it("stops on a cycle", () => {
    const a = new Error("a");
    const b = new Error("b", { cause: a });
    a.cause = b;
    expect(describeCauses(new Error("top", { cause: a }))).toBe("a: b");
  });
});
