import { describe, expect, it } from "vitest";
import type { Principal } from "../src/command/permissions.js";
import { cachedAuthenticate } from "../src/command/token_cache.js";

const alice: Principal = { userId: "alice", orgId: "org", role: "ORG_OWNER" };

function fixture(ttlMs = 1000, maxEntries = 2) {
  let time = 0;
  const lookups: string[] = [];
  const valid = new Map<string, Principal>([["t1", alice], ["t2", { ...alice, userId: "bob" }], ["t3", { ...alice, userId: "carol" }]]);
  const authenticate = cachedAuthenticate(
    async (token) => {
      lookups.push(token);
      return valid.get(token);
    },
    { ttlMs, maxEntries, now: () => time },
  );
  return { authenticate, lookups, valid, advance: (ms: number) => (time += ms) };
}

describe("cachedAuthenticate", () => {
  it("looks an accepted token up once within its time to live, then again", async () => {
    const f = fixture();
    expect(await f.authenticate("t1")).toEqual(alice);
    f.advance(999);
    expect(await f.authenticate("t1")).toEqual(alice);
    expect(f.lookups).toEqual(["t1"]);
    f.valid.delete("t1");
    f.advance(1);
    expect(await f.authenticate("t1")).toBeUndefined();
    expect(f.lookups).toEqual(["t1", "t1"]);
  });

  it("never remembers a rejected token", async () => {
    const f = fixture();
    await f.authenticate("nope");
    await f.authenticate("nope");
    expect(f.lookups).toEqual(["nope", "nope"]);
  });

  it("drops the oldest entry when full", async () => {
    const f = fixture();
    await f.authenticate("t1");
    await f.authenticate("t2");
    await f.authenticate("t3");
    await f.authenticate("t2");
    await f.authenticate("t1");
    expect(f.lookups).toEqual(["t1", "t2", "t3", "t1"]);
  });

  it("is off with a time to live of 0", async () => {
    const f = fixture(0);
    await f.authenticate("t1");
    await f.authenticate("t1");
    expect(f.lookups).toEqual(["t1", "t1"]);
  });
});
