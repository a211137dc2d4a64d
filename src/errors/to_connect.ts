import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/zitadel/v1/message_pb.js";
import { LatchkeyError } from "./errors.js";

/**
 * The error as every protocol carries it: message "text (id)" and a
 * zitadel.v1.ErrorDetail with id and key in the details (grpc-status-details-bin
 * over gRPC, Connect's error details, the REST gateway's "details").
 */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof LatchkeyError) {
    const details = err.reasons.map(({ id, key }) => ({ id, message: key }));
    // the cause stays on the server: for the log, never on the wire
    return new ConnectError(err.message, err.code, undefined, details.map((value) => ({ desc: ErrorDetailSchema, value })), err);
  }
  if (err instanceof ConnectError) return err;
  return new ConnectError("Internal error (SERVER-Ie5sh)", Code.Internal, undefined, [
    { desc: ErrorDetailSchema, value: { id: "SERVER-Ie5sh", message: "Errors.Internal" } },
  ]);
}
