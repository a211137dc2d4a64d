import { describe, expect, it } from "vitest";
import { generateToken, hashToken } from "../src/crypto/tokens.js";

describe("tokens", () => {
  it("hashes a token to the hex SHA-256 of its UTF-8 bytes, the form stored for every existing token", () => {
    expect(hashToken("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashToken("\u00e9")).toBe("4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c");
  });

  it("generates 256-bit tokens in base64url, each different", () => {
    const tokens = Array.from({ length: 100 }, generateToken);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(tokens).size).toBe(tokens.length);
  });
});
