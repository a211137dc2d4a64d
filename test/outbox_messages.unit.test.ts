import { describe, expect, it } from "vitest";
import { formatOutboxMessage, linksIn, outboxMessageJson, type OutboxMessage } from "../src/notification/outbox_messages.js";

describe("linksIn", () => {
  it("finds the links of a text, without the punctuation that ends a sentence", () => {
    const text = "Reset password: https://login.example.com/ui/login/password/init?userID=1&code=AB12CD&orgID=2\nOr see (https://example.com/help). Again: https://example.com/help.";
    expect(linksIn(text)).toEqual(["https://login.example.com/ui/login/password/init?userID=1&code=AB12CD&orgID=2", "https://example.com/help"]);
  });

  it("finds none in a text without links", () => {
    expect(linksIn("The password of your user has changed.")).toEqual([]);
    expect(linksIn("ftp://example.com mailto:a@example.com")).toEqual([]);
  });
});

describe("formatting", () => {
  const message: OutboxMessage = {
    time: new Date("2026-11-22T10:42:17.771Z"),
    medium: "email",
    to: "ada@example.com",
    subject: "Reset password",
    links: ["http://localhost:8080/ui/login/password/init?userID=1&code=AB12CD&orgID=2"],
    file: "/srv/data/outbox/1.2.default@localhost.eml",
  };

  it("puts each link on a line of its own", () => {
    expect(formatOutboxMessage(message)).toBe(
      "2026-11-22T10:42:17.771Z  ada@example.com  Reset password\n  http://localhost:8080/ui/login/password/init?userID=1&code=AB12CD&orgID=2",
    );
    expect(formatOutboxMessage({ ...message, links: [] })).toBe("2026-11-22T10:42:17.771Z  ada@example.com  Reset password");
  });

  it("gives JSON with the time as text", () => {
    expect(JSON.parse(outboxMessageJson(message))).toEqual({ ...message, time: "2026-11-22T10:42:17.771Z" });
  });
});
