import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { allClients } from "./support/clients.js";
import { BIN, runCli, startCliServer } from "./support/cli.js";
import { addUser, resetPassword, waitUntil } from "./support/notification.js";
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
  it("output into a reader that has stopped reading (latchkey … | head) ends quietly", async () => {
    const child = spawn(process.execPath, [BIN, "--help"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

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

  it("a metrics port in use fails the start as well, before anything is opened", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    const dataDir = path.join(freshDir(), "data");
    const out = await runCli(["start", "--host", "127.0.0.1", "--port", "0", "--metrics-port", String(port), "--data-dir", dataDir]);
    blocker.close();
    expect([out.code, out.stderr.trim(), out.stdout]).toEqual([1, `latchkey: metrics port ${port} is already in use`, ""]);
    expect(fs.existsSync(dataDir)).toBe(false);
  });

  it("a data directory that is a regular file says so", async () => {
    const file = path.join(freshDir(), "data");
    fs.writeFileSync(file, "");
    for (const args of [["start", "--port", "0"], ["org", "add", "--name", "acme"], ["init"]]) {
      const out = await runCli([...args, "--data-dir", file]);
      expect([out.code, out.stderr.trim()], args.join(" ")).toEqual([1, `latchkey: data directory ${file} is a file, not a directory`]);
    }
  });

  it("a PostgreSQL that cannot be reached names the cause, never the URL's password", async () => {
    const url = "postgres://latchkey:s3cret-Pa55@no-such-host.invalid:5432/latchkey";
    const key = Buffer.alloc(32, 7).toString("base64");
    const started = await runCli(["start", "--host", "127.0.0.1", "--port", "0", "--data-dir", freshDir(), "--database-url", url, "--encryption-key", key]);
    const operator = await runCli(["org", "add", "--name", "acme", "--database-url", url]);
    for (const out of [started, operator]) {
      expect(out.code).toBe(1);
      expect(out.stderr.trim().split("\n")).toHaveLength(1);
      expect(out.stderr).toMatch(/^latchkey: The database is unavailable, try again later \(STORE-pG7vq\): .*ENOTFOUND no-such-host\.invalid/);
      expect(out.stderr + out.stdout).not.toContain("s3cret-Pa55");
    }
  });

  it("an unusable data directory is one clear line", async () => {
    const file = path.join(freshDir(), "a-file");
    fs.writeFileSync(file, "");
    const out = await runCli(["start", "--port", "0", "--data-dir", path.join(file, "data")]);
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
    const dataDir = freshDir();
    expect((await runCli(["init", "--data-dir", dataDir])).code).toBe(0);
    const out = await runCli(["machine-user", "add", "--org", "123", "--username", "x", "--role", "ORG_OWNER", "--data-dir", dataDir]);
    expect(out.code).toBe(1);
    expect(out.stderr.trim()).toBe("latchkey: Organization could not be found (INSTANCE-0rg4f)");
  });

  it("an unknown role is a usage error", async () => {
    const out = await runCli(["machine-user", "add", "--org", "1", "--username", "x", "--role", "ROOT", "--data-dir", freshDir()]);
    expect(out.code).toBe(2);
  });
});

describe("where there is no instance", () => {
  const OPERATOR_COMMANDS = [
    ["org", "add", "--name", "acme"],
    ["machine-user", "add", "--org", "1", "--username", "bot", "--role", "ORG_OWNER"],
    ["token", "add", "--user", "1"],
    ["app", "add", "--name", "shop"],
    ["connection", "set", "--org", "1", "--name", "acme-users"],
    ["policy", "set", "--org", "1", "--min-length", "12"],
    ["audit", "--user", "1"],
  ];

  it("operator commands refuse a folder without one and create nothing there", async () => {
    const dataDir = path.join(freshDir(), "dtaa");
    for (const args of OPERATOR_COMMANDS) {
      const out = await runCli([...args, "--data-dir", dataDir]);
      expect([out.code, out.stdout, out.stderr.trim()], args.join(" ")).toEqual([
        1,
        "",
        `latchkey: no latchkey instance in ${dataDir}: start the server first or pass --data-dir ('latchkey init' creates one)`,
      ]);
      expect(fs.existsSync(dataDir), args.join(" ")).toBe(false);
    }
  });

  it("the default ./data of another working directory is refused the same way", async () => {
    const cwd = freshDir();
    const out = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(process.execPath, [BIN, "org", "add", "--name", "acme"], { cwd, env: { ...process.env, LATCHKEY_DATA_DIR: "", LATCHKEY_DATABASE_URL: "" } }, (err, _stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stderr }),
      );
    });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`no latchkey instance in ${path.join(fs.realpathSync(cwd), "data")}:`);
    expect(fs.readdirSync(cwd)).toEqual([]);
  });

  it("a database that holds no instance (migrated only) is refused too", async () => {
    const dataDir = freshDir();
    expect((await runCli(["migrate", "--data-dir", dataDir])).code).toBe(0);
    const out = await runCli(["token", "add", "--user", "1", "--data-dir", dataDir]);
    expect([out.code, out.stderr.trim()]).toEqual([1, `latchkey: no latchkey instance in ${dataDir}: start the server first or pass --data-dir ('latchkey init' creates one)`]);
  });

  it("latchkey init creates one without serving; operator commands then work and a second init changes nothing", async () => {
    const dataDir = path.join(freshDir(), "data");
    const created = await runCli(["init", "--data-dir", dataDir]);
    expect([created.code, created.stdout]).toEqual([0, `created a latchkey instance in ${dataDir}; admin token in ${path.join(dataDir, "admin.pat")}\n`]);
    const adminToken = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8");
    expect(fs.statSync(path.join(dataDir, "admin.pat")).mode & 0o777).toBe(0o600);
    const again = await runCli(["init", "--data-dir", dataDir]);
    expect([again.code, again.stdout]).toEqual([0, `latchkey instance already in ${dataDir}\n`]);
    expect(fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8")).toBe(adminToken);
    expect((await runCli(["org", "add", "--name", "acme", "--data-dir", dataDir])).stdout).toMatch(/^\d{18}\n$/);

    // the server serves the instance init made, with its admin token
    const server = await startCliServer(["--data-dir", dataDir]);
    const { userId } = await addUser(server.url, adminToken.trim());
    expect(userId).toMatch(/^\d{18}$/);
    expect(await server.stop()).toBe(0);
  });
});

describe("a busy port", () => {
  it("fails the second server before it opens a database or starts a notifier, with one line and exit code 1", async () => {
    const first = await startCliServer(["--data-dir", freshDir()]);
    const port = new URL(first.url).port;
    const dataDir = path.join(freshDir(), "data");
    const out = await runCli(["start", "--host", "127.0.0.1", "--port", port, "--data-dir", dataDir]);
    expect(await first.stop()).toBe(0);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(`latchkey: port ${port} is already in use\n`);
    // no log line before the error: nothing was opened, created or started
    expect(out.stdout).toBe("");
    expect(fs.existsSync(dataDir)).toBe(false);
  });
});

describe("latchkey outbox", () => {
  it("lists the messages newest first with the hosted page's link decoded, and --last gives a link that resets the password", async () => {
    const dataDir = freshDir();
    const server = await startCliServer(["--data-dir", dataDir, "--external-url", "https://login.example.com"]);
    const adminToken = fs.readFileSync(path.join(dataDir, "admin.pat"), "utf8").trim();
    const outbox = path.join(dataDir, "outbox");
    const messages = () => (fs.existsSync(outbox) ? fs.readdirSync(outbox).filter((f) => f.endsWith(".eml")) : []);
    const { userId, orgId } = await addUser(server.url, adminToken, { email: "ada@example.com" });
    // a link without a template: the hosted page
    const sendLink = { medium: { case: "sendLink", value: {} } };
    await resetPassword(server.url, adminToken, userId, sendLink);
    await waitUntil(() => messages().length === 1, "the first message");
    await resetPassword(server.url, adminToken, userId, sendLink);
    await waitUntil(() => messages().length === 2, "the second message");

    // in the file the link is quoted-printable: copied from there it is broken
    const raw = messages().map((f) => fs.readFileSync(path.join(outbox, f), "utf8")).join("");
    expect(raw).toContain("userID=3D");

    const listed = await runCli(["outbox", "--data-dir", dataDir]);
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(4);
    for (const i of [0, 2]) expect(lines[i]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z  ada@example\.com  Reset password$/);
    expect(lines[0]! >= lines[2]!).toBe(true);
    const [newest, older] = [lines[1]!.trim(), lines[3]!.trim()];
    const code = new URL(newest).searchParams.get("code")!;
    expect(code).toMatch(/^[A-Z0-9]{6}$/);
    expect(newest).toBe(`https://login.example.com/ui/login/password/init?userID=${userId}&code=${code}&orgID=${orgId}`);

    const last = await runCli(["outbox", "--last", "--data-dir", dataDir]);
    expect(last.stdout).toBe(`${lines[0]}\n  ${newest}\n`);
    const json = JSON.parse((await runCli(["outbox", "--last", "--json", "--data-dir", dataDir])).stdout);
    expect(json).toMatchObject({ medium: "email", to: "ada@example.com", subject: "Reset password", links: [newest] });
    expect(fs.existsSync(json.file)).toBe(true);

    // the newest link's code completes the reset; the older one was replaced
    const [client] = allClients(server.url);
    const setWith = (c: string) =>
      client!.call("setPassword", { userId, newPassword: { password: "Correct-Horse-7" }, verification: { case: "verificationCode", value: c } });
    expect((await setWith(new URL(older).searchParams.get("code")!)).ok).toBe(false);
    expect((await setWith(code)).ok).toBe(true);
    expect(await server.stop()).toBe(0);
  });

  it("an empty outbox says so; --last then exits 1", async () => {
    const dataDir = freshDir();
    expect((await runCli(["init", "--data-dir", dataDir])).code).toBe(0);
    expect(await runCli(["outbox", "--data-dir", dataDir])).toEqual({ code: 0, stdout: "", stderr: `latchkey: no messages in ${path.join(dataDir, "outbox")}\n` });
    expect((await runCli(["outbox", "--last", "--data-dir", dataDir])).code).toBe(1);
    const missing = await runCli(["outbox", "--data-dir", path.join(dataDir, "nope")]);
    expect([missing.code, missing.stderr]).toEqual([1, `latchkey: no latchkey instance in ${path.join(dataDir, "nope")}: start the server first or pass --data-dir ('latchkey init' creates one)\n`]);
  });
});
