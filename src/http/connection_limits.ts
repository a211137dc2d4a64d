/** What a connection may cost before the server gives up on it. */
export interface ConnectionLimits {
  /**
   * Milliseconds until a connection has shown its protocol (its TLS handshake
   * done), an HTTP/1.1 request its complete headers, and a new HTTP/2
   * connection its first stream.
   */
  headersTimeoutMs: number;
  /** Milliseconds to receive a whole request, headers and body: per HTTP/1.1 request and per HTTP/2 stream. */
  requestTimeoutMs: number;
  /** Milliseconds an HTTP/1.1 connection may wait for its next request. */
  keepAliveTimeoutMs: number;
  /** Milliseconds an HTTP/2 connection may go without an open stream before it is closed with GOAWAY. */
  http2IdleTimeoutMs: number;
  /** Streams one HTTP/2 connection may have open at once; the peer's excess is refused (REFUSED_STREAM). */
  http2MaxConcurrentStreams: number;
  /** Memory in MiB one HTTP/2 session may buffer before new streams are refused. */
  http2MaxSessionMemoryMiB: number;
  /** Bytes of request headers: the whole header section on HTTP/1.1, the decoded header list on HTTP/2. */
  maxHeaderBytes: number;
  /** Milliseconds an HTTP/2 connection may send nothing before it is sent a PING; 0 sends none. */
  http2KeepAliveIntervalMs: number;
  /** Milliseconds within which a PING must be acknowledged, or the connection is closed. */
  http2KeepAliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: Readonly<ConnectionLimits> = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  http2IdleTimeoutMs: 60_000,
  http2MaxConcurrentStreams: 250,
  http2MaxSessionMemoryMiB: 10,
  maxHeaderBytes: 16 * 1024,
  http2KeepAliveIntervalMs: 30_000,
  http2KeepAliveTimeoutMs: 10_000,
};
