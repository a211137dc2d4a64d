/**
 * One implementation behind two editions of a service (ZITADEL's v2 and
 * v2beta): the methods of `service` are answered by the handlers of `twin`,
 * matched by name. A request is re-read as the twin's request and the answer
 * as the service's, which is lossless because each pair of messages is the
 * same on the wire (checked here, once, when the service is built).
 */
import { create, fromBinary, toBinary, type DescMethod, type DescService } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { wireDifferences } from "./wire_shape.js";

type UnaryHandler = (req: never, ctx: HandlerContext) => unknown;

/**
 * A method of `service` with no namesake in `twin`, or one `impl` leaves out,
 * stays unimplemented (the router answers UNIMPLEMENTED). So a method added to
 * both editions' protos is served by both as soon as `impl` has it.
 */
export function twinService<S extends DescService, T extends DescService>(
  service: S,
  twin: T,
  impl: Partial<ServiceImpl<T>>,
): Partial<ServiceImpl<S>> {
  const handlers: Record<string, (req: unknown, ctx: HandlerContext) => Promise<unknown>> = {};
  for (const method of service.methods) {
    const target = twin.methods.find((m) => m.name === method.name);
    const handler = target && (impl as Record<string, UnaryHandler | undefined>)[target.localName];
    if (!target || !handler) continue;
    assertSameWire(method, target);
    handlers[method.localName] = async (req, ctx) => {
      const answer = await handler(fromBinary(target.input, toBinary(method.input, req as never)) as never, ctx);
      return fromBinary(method.output, toBinary(target.output, create(target.output, answer as never)));
    };
  }
  return handlers as Partial<ServiceImpl<S>>;
}

function assertSameWire(method: DescMethod, target: DescMethod): void {
  const where = `${method.parent.typeName}/${method.name} and ${target.parent.typeName}/${target.name}`;
  if (method.methodKind !== "unary" || target.methodKind !== "unary") throw new Error(`${where}: only unary methods can be twinned`);
  const differences = [...wireDifferences(method.input, target.input), ...wireDifferences(method.output, target.output)];
  if (differences.length > 0) throw new Error(`${where} differ on the wire:\n${differences.join("\n")}`);
}
