/** Errors as grpc-gateway writes them: {"code", "message", "details"} with its HTTP status per code. */
import { create, createRegistry, toJson, type JsonObject } from "@bufbuild/protobuf";
import { anyPack, AnySchema } from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { file_zitadel_v1_message } from "../../../gen/zitadel/v1/message_pb.js";
import { LatchkeyError } from "../../errors/errors.js";
import { toConnectError } from "../../errors/to_connect.js";
import { callHeaders, sendJson, type JsonResponse } from "../../http/io.js";

const HTTP_STATUS: Record<Code, number> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** Types the details may hold: ours and protovalidate's violations. */
const detailTypes = createRegistry(file_zitadel_v1_message, file_buf_validate_validate);

/** A failure of the gateway itself; `status` when it differs from grpc-gateway's for the code. */
export class GatewayError extends LatchkeyError {
  constructor(code: Code, id: string, key: string, text: string, readonly status?: number) {
    super(code, id, key, text);
  }
}

export function methodNotAllowed(method: string | undefined, path: string, allow: string[]): GatewayError {
  const text = `Method ${method} is not allowed on ${path}, only ${allow.join(", ")}`;
  return new GatewayError(Code.Unimplemented, "GATEWAY-Mn6a2", "Errors.Gateway.MethodNotAllowed", text, 405);
}

export function unsupportedMediaType(contentType: string | undefined): GatewayError {
  const given = contentType === undefined ? "no Content-Type" : `Content-Type ${contentType}`;
  const text = `request body must be sent as application/json, not with ${given}`;
  return new GatewayError(Code.InvalidArgument, "GATEWAY-Ct5j8", "Errors.Gateway.UnsupportedMediaType", text, 415);
}

export function writeError(res: JsonResponse, err: unknown, headers: Record<string, string> = {}): void {
  const error = toConnectError(err);
  const status = (err instanceof GatewayError && err.status) || HTTP_STATUS[error.code];
  sendJson(res, status, { code: error.code, message: error.rawMessage, details: error.details.map(detailJson) }, {
    ...headers,
    ...callHeaders(error.metadata),
  });
}

function detailJson(detail: ConnectError["details"][number]): JsonObject {
  const any =
    "desc" in detail
      ? anyPack(detail.desc, create(detail.desc, detail.value))
      : create(AnySchema, { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value });
  try {
    const { "@type": type, ...fields } = toJson(AnySchema, any, { registry: detailTypes }) as JsonObject;
    return { "@type": type ?? any.typeUrl, ...fields };
  } catch {
    // a type we cannot print as JSON: the Any with its bytes
    return { "@type": any.typeUrl, value: Buffer.from(any.value).toString("base64") };
  }
}
