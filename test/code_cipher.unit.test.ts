import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { CodeCipher, keyId } from "../src/crypto/code_cipher.js";

const ivOf = (sealed: string) => sealed.split(".")[2]!;

describe("CodeCipher", () => {
  it("decrypts what it encrypted, under the first key's id", () => {
    const key = randomBytes(32);
    const cipher = new CodeCipher([key]);
    const sealed = cipher.encrypt("K7Q2ZP");
    expect(sealed.split(".").slice(0, 2)).toEqual(["v1", keyId(key)]);
    expect(sealed).not.toContain("K7Q2ZP");
    expect(cipher.decrypt(sealed)).toBe("K7Q2ZP");
  });

  it("gives every encryption its own 12-byte IV, also across refills of its random bytes", () => {
    const cipher = new CodeCipher([randomBytes(32)]);
    // several times the IVs one draw of random bytes holds
    const sealed = Array.from({ length: 2_000 }, () => cipher.encrypt("SAME01"));
    const ivs = sealed.map(ivOf);
    expect(new Set(ivs).size).toBe(sealed.length);
    for (const iv of ivs) expect(Buffer.from(iv, "base64url")).toHaveLength(12);
    expect(new Set(sealed).size).toBe(sealed.length);
    for (const s of sealed) expect(cipher.decrypt(s)).toBe("SAME01");
  });

  it("refuses a ciphertext whose tag, IV or text was changed", () => {
    const cipher = new CodeCipher([randomBytes(32)]);
    const parts = cipher.encrypt("ABC123").split(".");
    const flip = (part: string) => {
      const bytes = Buffer.from(part, "base64url");
      bytes[0] = bytes[0]! ^ 1;
      return bytes.toString("base64url");
    };
    for (const index of [2, 3, 4]) {
      const tampered = parts.map((part, i) => (i === index ? flip(part) : part)).join(".");
      expect(() => cipher.decrypt(tampered)).toThrow();
    }
  });

  it("decrypts with an older key after rotation, and refuses a key it does not hold", () => {
    const older = randomBytes(32);
    const sealedBefore = new CodeCipher([older]).encrypt("OLD999");
    const rotated = new CodeCipher([randomBytes(32), older]);
    expect(rotated.decrypt(sealedBefore)).toBe("OLD999");
    expect(() => new CodeCipher([randomBytes(32)]).decrypt(sealedBefore)).toThrow(/no key/);
  });
});
