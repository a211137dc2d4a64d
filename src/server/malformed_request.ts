/**
 * Connect reports request bytes it cannot read (protobuf that does not
 * decode, a message flagged compressed without a grpc-encoding) as Internal,
 * which blames the server and which clients and alerts treat as an outage.
 * They are the caller's fault: InvalidArgument, as connect-go answers them.
 */
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";

const CALLER_FAULTS = [/^parse binary: /, /^received compressed envelope, but do not know how to decompress/];

/**
 * A request gate (runs before the body is read) that relabels those errors.
 * Connect aborts the call's context with the error before it writes the
 * error out, in every protocol, so relabelling it on abort is in time.
 */
export function malformedRequestGate(context: HandlerContext): void {
  const { signal } = context;
  signal.addEventListener(
    "abort",
    () => {
      const reason: unknown = signal.reason;
      if (reason instanceof ConnectError && reason.code === Code.Internal && CALLER_FAULTS.some((re) => re.test(reason.rawMessage))) {
        (reason as { code: Code }).code = Code.InvalidArgument;
      }
    },
    { once: true },
  );
}
