import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { allClients } from "./support/clients.js";
import { runCli, startCliServer } from "./support/cli.js";
import { tempDir } from "./support/server.js";

const dirs: string[] = [];
function freshDir(): string {
  const dir = tempDir("latchkey-cli-");
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe("help and errors", () => {
  it("--help lists the commands", async () => {
    const out = await runCli(["--help"]);
    expect(out.code).toBe(0);
    for (const cmd of ["start", "org add", "machine-user add", "token add"]) expect(out.stdout).toContain(cmd);
  });

  it("each command's --help describes its flags", async () => {
    expect((await runCli(["start", "--help"])).stdout).toMatch(/--data-dir .*LATCHKEY_DATA_DIR/);
    expect((await runCli(["machine-user", "add", "--help"])).stdout).toContain("--role");
  });

  it("a bad flag is one clear line and exit code 2", async () => {
    const out = await runCli(["start", "--no-such-flag"]);
    expect(out.code).toBe(2);
    expect(out.stderr.trim().split("\n")).toHaveLength(1);
    expect(out.stderr).toContain("--no-such-flag");
  });

  it("a bad port value is refused", async () => {
    const out = await runCli(["start", "--port", "99999"]);
    expect([out.code, out.stderr.trim()]).toEqual([2, 'latchkey: port must be a whole number from 0 to 65535, got "99999"']);
  });

  it("a port in use is one clear line", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const out = await runCli(["start", "--host", "127.0.0.1", "--port", String(port), "--data-dir", freshDir()]);
    blocker.close();
    expect(out.code).toBe(1);
    expect(out.stderr.trim()).toBe(`latchkey: port ${port} is already in use`);
  });

  it("an unusable data directory is one clear line", async () => {
    const file = path.join(freshDir(), "a-file");
    fs.writeFileSync(file, "");
    const out = await runCli(["start", "--data-dir", path.join(file, "data")]);
    expect(out.code).toBe(1);
    expect(out.stderr.trim()).toMatch(/^latchkey: data directory .* is not usable \(ENOTDIR\)$/);
  });
});

describe("a running server", () => {
  it("takes operator commands while it runs, and keeps its data across a restart", async () => {
    const dataDir = freshDir();
    let server = await startCliServer(["--data-dir", dataDir]);
    const adminToken = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();
    expect(fs.statSync(path.join(dataDir, "admin.pat")).mode & 0o777).toBe(0o600);

    // operator commands print only the new id or token
    const org = await runCli(["org", "add", "--name", "acme", "--data-dir", dataDir]);
    expect(org.stdout).toMatch(/^\d{18}\n$/);
    const orgId = org.stdout.trim();
    const owner = await runCli(["machine-user", "add", "--org", orgId, "--username", "acme-admin", "--role", "ORG_OWNER", "--data-dir", dataDir]);
    expect(owner.stdout).toMatch(/^\d{18}\n$/);
    const token = await runCli(["token", "add", "--user", owner.stdout.trim(), "--data-dir", dataDir]);
    expect(token.stdout).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    const ownerToken = token.stdout.trim();

    // the running server accepts the new token for its own organization
    let [client] = allClients(server.url);
    const added = await client!.call(
      "addHumanUser",
      { organization: { org: { case: "orgId", value: orgId } }, profile: { givenName: "A", familyName: "B" }, email: { email: "a@acme.test" } },
      ownerToken,
    );
    if (!added.ok) throw new Error(added.message);
    const userId = added.value.userId;
    const first = await client!.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, ownerToken);
    expect(first.ok && first.value.details!.sequence).toBe(2n);

    expect(await server.stop("SIGTERM")).toBe(0);
    server = await startCliServer(["--data-dir", dataDir]);
    [client] = allClients(server.url);
    const second = await client!.call("passwordReset", { userId, medium: { case: "returnCode", value: {} } }, adminToken);
    expect(second.ok && second.value.details!.sequence).toBe(3n);
    expect(fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim()).toBe(adminToken);
    expect(await server.stop("SIGTERM")).toBe(0);

    // no secret reached the log
    const log = server.stdout.join("\n");
    expect(log).not.toContain(adminToken);
    expect(log).not.toContain(ownerToken);
  });

  it("operator errors are one line with exit code 1", async () => {
    const out = await runCli(["machine-user", "add", "--org", "123", "--username", "x", "--role", "ORG_OWNER", "--data-dir", freshDir()]);
    expect(out.code).toBe(1);
    expect(out.stderr.trim()).toBe("latchkey: Organization could not be found (INSTANCE-0rg4f)");
  });

  it("an unknown role is a usage error", async () => {
    const out = await runCli(["machine-user", "add", "--org", "1", "--username", "x", "--role", "ROOT", "--data-dir", freshDir()]);
    expect(out.code).toBe(2);
  });
});
