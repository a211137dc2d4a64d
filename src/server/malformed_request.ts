/**
 * Connect reports request bytes it cannot read (protobuf that does not
 * decode, a message flagged compressed without a grpc-encoding) as Internal,
 * which blames the server and which clients and alerts treat as an outage.
 * They are the caller's fault: InvalidArgument, as connect-go answers them.
 */
import { Code, ConnectError } from "@connectrpc/connect";

const CALLER_FAULTS = [/^parse binary: /, /^received compressed envelope, but do not know how to decompress/];

/**
 * Relabels those errors. Connect aborts the call's context with the error
 * before it writes the error out, in every protocol, so a request gate that
 * calls this when the call's signal aborts is in time.
 */
export function relabelCallerFault(reason: unknown): void {
  if (reason instanceof ConnectError && reason.code === Code.Internal && CALLER_FAULTS.some((re) => re.test(reason.rawMessage))) {
    (reason as { code: Code }).code = Code.InvalidArgument;
  }
}
