import { afterAll, beforeAll, expect, it } from "vitest";
import { allClients, type TestClient } from "./support/clients.js";
import { startTestServer, type TestServer } from "./support/server.js";

let server: TestServer;
let grpc: TestClient;

beforeAll(async () => {
  server = await startTestServer();
  grpc = allClients(server.url)[0]!;
});

afterAll(async () => {
  await server.close();
});

it("200 concurrent resets of one user all succeed with sequences 2..201 each exactly once", async () => {
  const added = await grpc.call(
    "addHumanUser",
    { profile: { givenName: "Grace", familyName: "Hopper" }, email: { email: "grace@example.com" } },
    server.adminToken,
  );
  if (!added.ok) throw new Error(added.message);
  const userId = added.value.userId;

  const results = await Promise.all(
    Array.from({ length: 200 }, () => grpc.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, server.adminToken)),
  );

  const failures = results.filter((r) => !r.ok);
  expect(failures).toEqual([]);
  const sequences = results.map((r) => (r.ok ? Number(r.value.details!.sequence) : -1)).sort((a, b) => a - b);
  expect(sequences).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));

  const events = await server.server.app.store.readAggregate({ type: "user", id: userId });
  expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
});
