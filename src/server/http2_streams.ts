/** Deadlines and clean-up of HTTP/2 sessions and streams that Node leaves to the server. */
import * as http2 from "node:http2";
import type { ConnectionLimits } from "../http/connection_limits.js";

/**
 * What Node's HTTP/1.1 server does for each request, for an HTTP/2 stream: the
 * request must arrive completely within `requestTimeoutMs`, or the stream is
 * cancelled. And a response complete before its request asks the client to
 * stop sending (RST_STREAM NO_ERROR, RFC 9113 8.1, as grpc-go does) instead of
 * leaving the stream open for a body nobody reads: a client that has sent its
 * flow-control window waits for that reset to end its stream.
 */
export function guardStream(stream: http2.ServerHttp2Stream, requestTimeoutMs: number): void {
  const remoteClosed = () => stream.state.remoteClose === 1;
  if (!remoteClosed()) {
    const timer = setTimeout(() => {
      if (!stream.destroyed && !remoteClosed()) stream.close(http2.constants.NGHTTP2_CANCEL);
    }, requestTimeoutMs);
    timer.unref();
    stream.once("end", () => clearTimeout(timer));
    stream.once("close", () => clearTimeout(timer));
  }
  // Once answered, the rest of the body is discarded, as Node's HTTP/1.1 server
  // does. Left unread in a paused stream it would keep the stream, and so its
  // session, open for good; the compat request (maybe destroyed by now) would
  // pause the stream again, so it stops getting the data.
  stream.once("finish", () => {
    if (stream.readableEnded) return;
    stream.removeAllListeners("data");
    stream.resume();
  });
  stream.once("finish", () => resetOnceAnswered(stream));
}

/** Looks of resetOnceAnswered() on the next turns before it waits between them. */
const ANSWER_SENT_QUICK_LOOKS = 8;
const ANSWER_SENT_LOOK_MS = 10;

/**
 * Resets the stream with NO_ERROR once the frame that ends its response
 * (HEADERS or DATA with END_STREAM, or trailers) has gone out, unless the
 * request has ended by then. Any earlier, nghttp2 would send the reset first
 * and the client would lose the end of the answer; Node tells of no such
 * frame, so the stream's state is looked at until it says so. The frame may
 * wait behind others on a connection whose peer reads slowly.
 */
function resetOnceAnswered(stream: http2.ServerHttp2Stream): void {
  let looks = 0;
  const look = () => {
    if (stream.destroyed || stream.closed) return;
    const { localClose, remoteClose } = stream.state;
    if (remoteClose === 1) return;
    if (localClose === 1) {
      stream.close(http2.constants.NGHTTP2_NO_ERROR);
      return;
    }
    if (++looks < ANSWER_SENT_QUICK_LOOKS) setImmediate(look);
    else setTimeout(look, ANSWER_SENT_LOOK_MS).unref();
  };
  setImmediate(look);
}

/**
 * Closes an HTTP/2 session (GOAWAY) that goes without an open stream for too
 * long: `headersTimeoutMs` before its first stream, `http2IdleTimeoutMs` after
 * its last one. Idle time counts from stream activity, not from bytes on the
 * socket, so pings or headers that never complete do not keep a session alive.
 */
export function closeWhenIdle(session: http2.Http2Session, limits: ConnectionLimits): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number) => {
    timer = setTimeout(() => {
      session.close();
      // A peer that never acknowledges the GOAWAY does not hold the socket.
      setTimeout(() => open === 0 && session.destroy(), limits.headersTimeoutMs).unref();
    }, ms);
    timer.unref();
  };
  arm(limits.headersTimeoutMs);
  session.on("stream", (stream: http2.Http2Stream) => {
    open++;
    clearTimeout(timer);
    stream.once("close", () => {
      if (--open === 0 && !session.closed && !session.destroyed) arm(limits.http2IdleTimeoutMs);
    });
  });
  session.once("close", () => clearTimeout(timer));
}

/**
 * Sends a PING on an HTTP/2 connection that has sent nothing for
 * `http2KeepAliveIntervalMs`, and destroys it when the PING is not acknowledged
 * within `http2KeepAliveTimeoutMs`. A peer that vanished (a dropped NAT
 * mapping, a pulled cable, a frozen process) says nothing, and its open
 * streams, a health Watch among them, would be held for good. Silence is
 * told by the socket's byte count at each look, so a connection is pinged
 * after one to two intervals without a frame.
 */
export function keepAlive(session: http2.Http2Session, limits: ConnectionLimits): void {
  const interval = limits.http2KeepAliveIntervalMs;
  if (interval === 0) return;
  const socket = session.socket;
  let seen = socket.bytesRead;
  let timer: NodeJS.Timeout | undefined;
  const lookAgain = () => {
    timer = setTimeout(look, interval);
    timer.unref();
  };
  const look = () => {
    if (session.destroyed || session.closed) return;
    if (socket.bytesRead !== seen) {
      seen = socket.bytesRead;
      return lookAgain();
    }
    const unanswered = setTimeout(() => session.destroy(), limits.http2KeepAliveTimeoutMs);
    unanswered.unref();
    session.ping((err) => {
      clearTimeout(unanswered);
      if (err) return; // the session is going away, or the PING was cancelled with it
      seen = socket.bytesRead;
      lookAgain();
    });
  };
  lookAgain();
  session.once("close", () => clearTimeout(timer));
}

/** The size of a header list as SETTINGS_MAX_HEADER_LIST_SIZE counts it (RFC 9113 6.5.2). */
export function headerListSize(rawHeaders: string[]): number {
  let size = 0;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) size += rawHeaders[i]!.length + rawHeaders[i + 1]!.length + 32;
  return size;
}

