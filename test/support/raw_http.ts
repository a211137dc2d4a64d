/**
 * Raw connections for protocol tests: a TCP socket that keeps what the server
 * sends, and a minimal HTTP/2 framer for what node:http2 refuses to send (more
 * streams than the peer allows, header blocks that never end, oversized header
 * lists) or cannot be made to do (stop reading, never answer a PING).
 */
import { once } from "node:events";
import * as net from "node:net";

/** Generous bound for "the server gave up on the connection" with short test timeouts. */
export const GIVES_UP_WITHIN_MS = 5_000;

export interface RawSocket {
  socket: net.Socket;
  received: () => Buffer;
  /** Resolves when the connection is gone, whether the server ended it (FIN) or reset it. */
  closed: Promise<void>;
  /** The socket error that came before the close, e.g. ECONNRESET for a reset, or EPIPE for a write after the server's close. */
  error: () => NodeJS.ErrnoException | undefined;
}

/** A raw TCP connection to 127.0.0.1:`port` that keeps whatever the server sends. */
export async function rawSocket(port: number): Promise<RawSocket> {
  const socket = net.connect(port, "127.0.0.1");
  socket.setNoDelay(true);
  const chunks: Buffer[] = [];
  let error: NodeJS.ErrnoException | undefined;
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  // events.once() would reject on 'error': a reset is one way for the server to close
  socket.on("error", (err) => (error ??= err));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await once(socket, "connect");
  return { socket, received: () => Buffer.concat(chunks), closed, error: () => error };
}

/** Resolves when `closed` does, and fails the test when that takes longer than `ms`. */
export async function closesWithin(closed: Promise<unknown>, what: string, ms = GIVES_UP_WITHIN_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the server did not close ${what} within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([closed, late]);
  } finally {
    clearTimeout(timer);
  }
}

export const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
export const FRAME = { DATA: 0, HEADERS: 1, RST_STREAM: 3, SETTINGS: 4, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(streamId, 5);
  return Buffer.concat([head, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 5.1). */
function hpackInt(value: number, prefixBits: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [value];
  const bytes = [max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

/** A header block of literal fields without indexing or Huffman coding. */
export function headerBlock(headers: [string, string][]): Buffer {
  return Buffer.concat(
    headers.flatMap(([name, value]) => [
      Buffer.from([0x00, ...hpackInt(name.length, 7)]),
      Buffer.from(name, "latin1"),
      Buffer.from(hpackInt(value.length, 7)),
      Buffer.from(value, "latin1"),
    ]),
  );
}

export function getHeaders(path: string, extra: [string, string][] = []): Buffer {
  return requestHeaders("GET", path, extra);
}

export function requestHeaders(method: string, path: string, extra: [string, string][] = []): Buffer {
  return headerBlock([[":method", method], [":scheme", "http"], [":authority", "localhost"], [":path", path], ...extra]);
}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

export interface RawH2 {
  socket: net.Socket;
  frames: Frame[];
  closed: Promise<void>;
  /** Resolves once `done` holds for the frames so far; fails after GIVES_UP_WITHIN_MS. */
  until: (done: () => boolean) => Promise<void>;
}

/**
 * A raw HTTP/2 connection: sends the preface and SETTINGS (`settings` as
 * id/value pairs), acknowledges the server's SETTINGS (never its PINGs),
 * collects its frames.
 */
export async function rawH2(port: number, settings: [number, number][] = []): Promise<RawH2> {
  const { socket, closed } = await rawSocket(port);
  const frames: Frame[] = [];
  let buffer = Buffer.alloc(0);
  const waiters = new Set<() => void>();
  socket.on("data", (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    while (buffer.length >= 9) {
      const length = buffer.readUIntBE(0, 3);
      if (buffer.length < 9 + length) break;
      const f = { type: buffer[3]!, flags: buffer[4]!, streamId: buffer.readUInt32BE(5) & 0x7fffffff, payload: buffer.subarray(9, 9 + length) };
      buffer = buffer.subarray(9 + length);
      frames.push(f);
      if (f.type === FRAME.SETTINGS && !(f.flags & FLAG.ACK) && !socket.destroyed) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
    }
    for (const waiter of waiters) waiter();
  });
  const until = (done: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (done()) finish(resolve);
      };
      const timer = setTimeout(() => finish(() => reject(new Error("the expected frames did not arrive"))), GIVES_UP_WITHIN_MS);
      const finish = (then: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        then();
      };
      waiters.add(check);
      void closed.then(check);
      check();
    });
  const payload = Buffer.alloc(6 * settings.length);
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, 6 * i);
    payload.writeUInt32BE(value, 6 * i + 2);
  });
  socket.write(Buffer.concat([PREFACE, frame(FRAME.SETTINGS, 0, 0, payload)]));
  return { socket, frames, closed, until };
}

/** The :status of a response header block, as nghttp2 encodes it: indexed for 200, else a literal with indexed name. */
export function statusOf(block: Buffer): number | undefined {
  if (block[0] === 0x88) return 200;
  if (block[0] === 0x48 && block[1] === 3) return Number(block.subarray(2, 5).toString("latin1"));
  return undefined;
}

export function rstCodeOf(f: Frame): number {
  return f.payload.readUInt32BE(0);
}
