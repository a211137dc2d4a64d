/**
 * The four ways a ZITADEL client reaches latchkey, each built from ZITADEL's
 * own published schema (@zitadel/proto), so a passing test means a client
 * generated from ZITADEL's protos works unchanged.
 */
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { ErrorDetailSchema } from "@zitadel/proto/zitadel/message_pb.js";
import { UserService } from "@zitadel/proto/zitadel/user/v2/user_service_pb.js";
import { UserService as UserServiceV2beta } from "@zitadel/proto/zitadel/user/v2beta/user_service_pb.js";
import { afterAll, beforeAll } from "vitest";

/** Either edition: v2beta has v2's methods with the same messages in another package. */
export type UserServiceEdition = typeof UserService | typeof UserServiceV2beta;
type Methods = typeof UserService.method;
export type MethodName = keyof Methods;
type Input<M extends MethodName> = MessageInitShape<Methods[M]["input"]>;
type Output<M extends MethodName> = MessageShape<Methods[M]["output"]>;

export type Outcome<T> = { ok: true; value: T; headers: Headers } | { ok: false; code: Code; message: string; id?: string; key?: string };

export interface TestClient {
  name: string;
  call<M extends MethodName>(method: M, input: Input<M>, token?: string): Promise<Outcome<Output<M>>>;
  close(): void;
}

function failure(err: ConnectError): Outcome<never> {
  const [detail] = err.findDetails(ErrorDetailSchema);
  return { ok: false, code: err.code, message: err.rawMessage, ...(detail && { id: detail.id, key: detail.message }) };
}

export function connectClient(name: string, transport: Transport, service: UserServiceEdition): TestClient {
  const client = createClient(service as typeof UserService, transport) as unknown as Record<string, (input: unknown, options: unknown) => Promise<unknown>>;
  return {
    name,
    async call(method, input, token) {
      const fn = client[method]!;
      let headers = new Headers();
      try {
        const value = await fn(input, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
          onHeader: (h: Headers) => void (headers = h),
        });
        return { ok: true, value: value as never, headers };
      } catch (err) {
        return failure(ConnectError.from(err));
      }
    },
    close() {},
  };
}

function grpcJsClient(url: string, service: UserServiceEdition): TestClient {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  return {
    name: "@grpc/grpc-js",
    call(method, input, token) {
      const desc = (service as typeof UserService).method[method];
      const metadata = new grpc.Metadata();
      if (token) metadata.set("authorization", `Bearer ${token}`);
      const headers = new Headers();
      return new Promise((resolve) => {
        const call = client.makeUnaryRequest(
          `/${service.typeName}/${desc.name}`,
          (msg: unknown) => Buffer.from(toBinary(desc.input as DescMessage, msg as never)),
          (buf: Buffer) => fromBinary(desc.output as DescMessage, buf),
          create(desc.input as DescMessage, input as never),
          metadata,
          (err, value) => {
            if (!err) return resolve({ ok: true, value: value as never, headers });
            const trailer = new Headers();
            for (const [k, v] of Object.entries(err.metadata.getMap())) {
              trailer.set(k, Buffer.isBuffer(v) ? v.toString("base64") : v);
            }
            trailer.set("grpc-status", String(err.code));
            trailer.set("grpc-message", encodeURIComponent(err.details));
            resolve(failure(findTrailerError(trailer) ?? new ConnectError(err.details, err.code as number as Code)));
          },
        );
        call.on("metadata", (md: grpc.Metadata) => {
          for (const [k, v] of Object.entries(md.getMap())) headers.set(k, String(v));
        });
      });
    },
    close: () => client.close(),
  };
}

export function allClients(url: string, service: UserServiceEdition = UserService): TestClient[] {
  return [
    connectClient("connect gRPC (HTTP/2)", createGrpcTransport({ baseUrl: url }), service),
    connectClient("connect JSON (HTTP/1.1)", createConnectTransport({ baseUrl: url, httpVersion: "1.1" }), service),
    connectClient("gRPC-web (HTTP/1.1)", createGrpcWebTransport({ baseUrl: url, httpVersion: "1.1" }), service),
    grpcJsClient(url, service),
  ];
}

/** Every client of a server the test file shares, made before its first test and closed after its last; the getter finds one by name. */
export function useClients(target: { readonly url: string }, service: UserServiceEdition = UserService): (name: string) => TestClient {
  let clients: TestClient[] = [];
  beforeAll(() => {
    clients = allClients(target.url, service);
  });
  afterAll(() => {
    for (const c of clients) c.close();
  });
  return (name) => {
    const client = clients.find((c) => c.name === name);
    if (!client) throw new Error(`no client "${name}" (made in beforeAll)`);
    return client;
  };
}

export const clientNames = ["connect gRPC (HTTP/2)", "connect JSON (HTTP/1.1)", "gRPC-web (HTTP/1.1)", "@grpc/grpc-js"];
