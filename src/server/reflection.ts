/**
 * gRPC server reflection, v1 and v1alpha, over the descriptors of every
 * service on the router, so buf curl and grpcurl need no proto files.
 */
import {
  create,
  createRegistry,
  fromBinary,
  toBinary,
  type DescFile,
  type DescMessage,
  type MessageInitShape,
  type MessageShape,
  type Registry,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

type Answer = MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"];

interface Index {
  services: string[];
  /** by file name ("zitadel/user/v2/user_service.proto"), every dependency included */
  files: Map<string, DescFile>;
  registry: Registry;
}

/** Mounts both versions on the router; they describe whatever the router holds when first asked. */
export function reflection(router: ConnectRouter): void {
  let index: Index | undefined;
  const answerAll = (requests: AsyncIterable<v1.ServerReflectionRequest>) => answerStream((index ??= indexOf(router)), requests);
  router.service(v1.ServerReflection, { serverReflectionInfo: answerAll });
  // v1alpha has the same messages on the wire under another package
  router.service(v1alpha.ServerReflection, {
    serverReflectionInfo: (requests) =>
      recode(
        answerAll(recode(requests, v1alpha.ServerReflectionRequestSchema, v1.ServerReflectionRequestSchema)),
        v1.ServerReflectionResponseSchema,
        v1alpha.ServerReflectionResponseSchema,
      ),
  });
}

function indexOf(router: ConnectRouter): Index {
  const services = [...new Set(router.handlers.map((h) => h.service))];
  const files = new Map<string, DescFile>();
  const add = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    file.dependencies.forEach(add);
  };
  services.forEach((s) => add(s.file));
  return { services: services.map((s) => s.typeName), files, registry: createRegistry(...files.values()) };
}

async function* answerStream(index: Index, requests: AsyncIterable<v1.ServerReflectionRequest>) {
  // files sent earlier on a stream are not sent again, as the protocol allows
  const sent = new Set<string>();
  for await (const request of requests) {
    yield create(v1.ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: answer(index, request.messageRequest, sent),
    });
  }
}

function answer(index: Index, request: v1.ServerReflectionRequest["messageRequest"], sent: Set<string>): Answer {
  const { registry } = index;
  switch (request.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((name) => ({ name })) } };
    case "fileByFilename":
      return withDependencies(index.files.get(request.value), sent, `file ${request.value}`);
    case "fileContainingSymbol":
      return withDependencies(fileOfSymbol(registry, request.value), sent, `symbol ${request.value}`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      const extendee = registry.getMessage(containingType);
      const extension = extendee && registry.getExtensionFor(extendee, extensionNumber);
      return withDependencies(extension?.file, sent, `extension ${extensionNumber} of ${containingType}`);
    }
    case "allExtensionNumbersOfType": {
      if (!registry.getMessage(request.value)) return notFound(`type ${request.value}`);
      const numbers = [...registry].flatMap((d) => (d.kind === "extension" && d.extendee.typeName === request.value ? [d.number] : []));
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: request.value, extensionNumber: numbers } };
    }
    case undefined:
      return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" } };
  }
}

/** The file declaring a symbol: a type, service or extension, or a member of one (method, field). */
function fileOfSymbol(registry: Registry, symbol: string): DescFile | undefined {
  return (registry.get(symbol) ?? registry.get(symbol.slice(0, Math.max(0, symbol.lastIndexOf(".")))))?.file;
}

function withDependencies(file: DescFile | undefined, sent: Set<string>, what: string): Answer {
  if (!file) return notFound(what);
  const files: DescFile[] = [];
  const add = (f: DescFile, always = false) => {
    if (sent.has(f.proto.name) && !always) return;
    sent.add(f.proto.name);
    files.push(f);
    f.dependencies.forEach((d) => add(d));
  };
  add(file, true);
  return {
    case: "fileDescriptorResponse",
    value: { fileDescriptorProto: files.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
  };
}

function notFound(what: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

async function* recode<From extends DescMessage, To extends DescMessage>(
  messages: AsyncIterable<MessageShape<From>>,
  from: From,
  to: To,
): AsyncIterable<MessageShape<To>> {
  for await (const message of messages) yield fromBinary(to, toBinary(from, message));
}
