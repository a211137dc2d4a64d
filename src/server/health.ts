/**
 * Health: grpc.health.v1.Health for gRPC clients and orchestrators, and
 * GET /healthz (the process answers) and GET /readyz (the database is usable).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ServiceImpl } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../../gen/grpc/health/v1/health_pb.js";
import { notFound } from "../errors/errors.js";
import type { EventStore } from "../eventstore/eventstore.js";
import { getRoute } from "./gateway/get_route.js";
import { sendJson } from "../http/io.js";
import type { HttpRoute } from "../http/route.js";

const WATCH_INTERVAL_MS = 2_000;

export interface HealthOptions {
  /** the services reported besides the server as a whole (""), all healthy while the store is */
  services: string[];
  /** how often Watch looks at the store */
  watchIntervalMs?: number;
}

export function healthService(store: Pick<EventStore, "ready">, options: HealthOptions): ServiceImpl<typeof Health> {
  const known = new Set(["", ...options.services]);
  const status = async (service: string) => {
    if (!known.has(service)) return Status.SERVICE_UNKNOWN;
    return (await store.ready()) ? Status.SERVING : Status.NOT_SERVING;
  };
  return {
    async check({ service }) {
      const current = await status(service);
      if (current === Status.SERVICE_UNKNOWN) throw notFound("HEALTH-s8Kd2", "Errors.Health.ServiceUnknown", `Unknown service "${service}"`);
      return { status: current };
    },

    async list() {
      const statuses: Record<string, { status: Status }> = {};
      for (const service of known) statuses[service] = { status: await status(service) };
      return { statuses };
    },

    async *watch({ service }, ctx) {
      let last: Status | undefined;
      while (!ctx.signal.aborted) {
        const current = await status(service);
        if (current !== last) yield { status: (last = current) };
        await sleep(options.watchIntervalMs ?? WATCH_INTERVAL_MS, undefined, { signal: ctx.signal }).catch(() => {});
      }
    },
  };
}

/** `database` names the backend in /readyz ("sqlite", "postgresql"). */
export function healthRoutes(store: Pick<EventStore, "ready">, database: string): HttpRoute[] {
  return [
    getRoute("/healthz", (res) => sendJson(res, 200, { status: "ok" })),
    getRoute("/readyz", async (res) => {
      const ready = await store.ready();
      sendJson(res, ready ? 200 : 503, { status: ready ? "ok" : "unavailable", database: { kind: database, ready } });
    }),
  ];
}
