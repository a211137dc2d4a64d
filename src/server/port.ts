/** Start-up's first step: a port that cannot be had fails before the database is opened. */
import net from "node:net";

export class PortError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "SERVER-Prt4u";
}

/**
 * Binds the port and releases it at once. Port 0 always works. Another
 * process may still take the port before the server binds it; the server's
 * own bind then fails with the same message.
 */
export async function checkPortFree(port: number, host: string, name = "port"): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new PortError(`${name} ${port} is already in use`, { cause: err }));
      else if (err.code === "EACCES") reject(new PortError(`permission denied to listen on ${name} ${port}`, { cause: err }));
      else reject(new PortError(`cannot listen on ${host}:${port}: ${err.message}`, { cause: err }));
    });
    // exclusive: never share a cluster primary's handle
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve()));
  });
}
