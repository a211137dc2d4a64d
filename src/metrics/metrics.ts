/**
 * The Prometheus metrics of one server, in a registry of its own (never
 * prom-client's global one), so that several servers can run in one process.
 * Every label value comes from a small fixed set: method names the router
 * knows, protocols, status codes, media and limit names.
 */
import type { DescMethod } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** The values of another thread's registry (`registry.getMetricsAsJSON()`), added to this one's in a scrape. */
export type MetricsSource = () => ReturnType<Registry["getMetricsAsJSON"]>;

export type Protocol = "grpc" | "grpc-web" | "connect" | "rest" | "auth0";
/** How a request refused before any method came: "http" for paths that are neither REST nor RPC. */
export type RefusalProtocol = "grpc" | "grpc-web" | "connect" | "rest" | "http";
export type Medium = "email" | "sms";
export type LimitName = "change_password" | "change_password_ip" | "anonymous_ip" | "reset_user" | "reset_token";

const MEDIA: readonly Medium[] = ["email", "sms"];
const LIMIT_NAMES: readonly LimitName[] = ["change_password", "change_password_ip", "anonymous_ip", "reset_user", "reset_token"];

/** Seconds; from a fast read to an argon2id hash on a busy machine. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds; one transaction, usually well under a millisecond on SQLite. */
const APPEND_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** What the notifier's gauges show; read from its state when scraped. */
export interface NotifierSnapshot {
  /** newest position in the event store minus the notifier's checkpoint */
  lag: number;
  pending: number;
  /** age of the oldest message still to deliver (0 when none) */
  oldestPendingSeconds: number;
}

/** The counter and histogram series of one method or route over one protocol. */
export class RequestSeries {
  private readonly byStatus = new Map<number, Counter.Internal>();
  private readonly duration: Histogram.Internal<string>;

  constructor(
    private readonly requests: Counter<string>,
    durations: Histogram<string>,
    private readonly method: string,
    private readonly protocol: Protocol,
    private readonly statusLabel: (status: number) => string,
  ) {
    this.duration = durations.labels(method, protocol);
  }

  /** One finished request: `status` is the Connect code (0 for OK) or the HTTP status. */
  observe(status: number, startedMs: number): void {
    let count = this.byStatus.get(status);
    if (!count) {
      count = this.requests.labels(this.method, this.protocol, this.statusLabel(status));
      this.byStatus.set(status, count);
    }
    count.inc();
    this.duration.observe((performance.now() - startedMs) / 1000);
  }
}

const rpcStatusLabel = (code: number): string => (code === 0 ? "OK" : (Code[code] ?? "Unknown"));
const httpStatusLabel = (status: number): string => String(status);

export class Metrics {
  readonly registry = new Registry();

  private counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private readonly requests = this.counter("latchkey_requests_total", "Finished requests by method, protocol and status (gRPC code name for RPCs, HTTP status for the Auth0 endpoint)", ["method", "protocol", "code"]);
  private readonly requestDuration = new Histogram({
    name: "latchkey_request_duration_seconds",
    help: "Time from the start of a call to its answer, by method and protocol",
    labelNames: ["method", "protocol"],
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly refusedRequests = this.counter("latchkey_requests_refused_total", "Requests answered with an error before they reached a method, by protocol and status (gRPC code name over grpc and grpc-web, else the HTTP status)", ["protocol", "status"]);
  readonly appendDuration = new Histogram({
    name: "latchkey_eventstore_append_duration_seconds",
    help: "Time an event store append (one transaction) takes, failed ones included",
    buckets: APPEND_BUCKETS,
    registers: [this.registry],
  });
  readonly concurrencyConflicts = this.counter("latchkey_eventstore_concurrency_conflicts_total", "Appends refused because an aggregate had moved past the expected sequence");
  private readonly notificationsSent = this.counter("latchkey_notifications_sent_total", "Messages handed to the provider, by medium", ["medium"]);
  private readonly notificationsFailed = this.counter("latchkey_notifications_failed_total", "Messages given up on (permanent error, attempts used up or no address), by medium", ["medium"]);
  private readonly notificationRetries = this.counter("latchkey_notification_retries_total", "Failed delivery attempts that will be tried again, by medium", ["medium"]);
  private readonly rateLimitRejections = this.counter("latchkey_rate_limit_rejections_total", "Calls refused by a rate limit, by limit", ["limit"]);

  private notifierSource: (() => Promise<NotifierSnapshot>) | undefined;
  private notifierReading: Promise<NotifierSnapshot | undefined> | undefined;
  private readonly rpcSeries = new Map<DescMethod, Map<Protocol, RequestSeries>>();
  private readonly deliveries: Record<"sent" | "failed" | "retry", Record<Medium, Counter.Internal>>;
  private readonly rejections = new Map<LimitName, Counter.Internal>();

  private readonly sources: MetricsSource[] = [];

  /**
   * @param options.processMetrics false in a thread that serves beside the
   * main one: the process's CPU, memory and event loop are the main thread's to report
   */
  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
    // every series of a known label value exists at 0 from the first scrape, so that rate() sees its first increase
    const atZero = (counter: Counter<string>, value: string) => {
      const child = counter.labels(value);
      child.inc(0);
      return child;
    };
    const byMedium = (counter: Counter<string>) => Object.fromEntries(MEDIA.map((m) => [m, atZero(counter, m)])) as Record<Medium, Counter.Internal>;
    this.deliveries = { sent: byMedium(this.notificationsSent), failed: byMedium(this.notificationsFailed), retry: byMedium(this.notificationRetries) };
    for (const name of LIMIT_NAMES) this.rejections.set(name, atZero(this.rateLimitRejections, name));

    const read = this.readNotifier.bind(this);
    const notifierGauge = (name: string, help: string, value: (s: NotifierSnapshot) => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          const s = await read();
          if (s) this.set(value(s));
        },
      });
    notifierGauge("latchkey_notifier_lag_events", "Events in the store the notifier has not looked at yet (head position minus checkpoint)", (s) => s.lag);
    notifierGauge("latchkey_notifier_pending_messages", "Messages waiting for delivery or a retry", (s) => s.pending);
    notifierGauge("latchkey_notifier_oldest_pending_age_seconds", "Age of the event behind the oldest message still waiting (0 when none)", (s) => s.oldestPendingSeconds);
  }

  /** The series of an RPC over a protocol; made once, then found without allocating. */
  rpc(method: DescMethod, protocol: Protocol): RequestSeries {
    let byProtocol = this.rpcSeries.get(method);
    if (!byProtocol) this.rpcSeries.set(method, (byProtocol = new Map()));
    let series = byProtocol.get(protocol);
    if (!series) {
      series = new RequestSeries(this.requests, this.requestDuration, `${method.parent.typeName}/${method.name}`, protocol, rpcStatusLabel);
      byProtocol.set(protocol, series);
    }
    return series;
  }

  /** The series of a plain HTTP endpoint, labelled with its path; `status` is the HTTP status. */
  http(path: string, protocol: Protocol): RequestSeries {
    return new RequestSeries(this.requests, this.requestDuration, path, protocol, httpStatusLabel);
  }

  /** One request refused before a method; `status` a gRPC code name or an HTTP status. A function of its own, to be handed on as it is. */
  readonly refused = (protocol: RefusalProtocol, status: string): void => {
    this.refusedRequests.labels(protocol, status).inc();
  };

  /** A function of its own, to be handed to the notifier as it is. */
  readonly delivery = (outcome: "sent" | "failed" | "retry", medium: Medium): void => {
    this.deliveries[outcome][medium].inc();
  };

  rejected(limit: LimitName): Counter.Internal {
    return this.rejections.get(limit)!;
  }

  /** Where the notifier gauges read from; without it they stay at 0. */
  watchNotifier(source: () => Promise<NotifierSnapshot>): void {
    this.notifierSource = source;
  }

  /** One read per scrape for all three gauges; a failed read leaves them at their last values. */
  private readNotifier(): Promise<NotifierSnapshot | undefined> {
    const source = this.notifierSource;
    if (!source) return Promise.resolve(undefined);
    this.notifierReading ??= source()
      .catch(() => undefined)
      .finally(() => (this.notifierReading = undefined));
    return this.notifierReading;
  }

  /** Adds another thread's values to every scrape (`--workers`): counters and histograms add up. */
  include(source: MetricsSource): void {
    this.sources.push(source);
  }

  /** The text a scrape gets, and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    if (this.sources.length === 0) return { body: await this.registry.metrics(), contentType: this.registry.contentType };
    const all = await Promise.all([this.registry.getMetricsAsJSON(), ...this.sources.map((source) => source())]);
    const sum = AggregatorRegistry.aggregate(all);
    return { body: await sum.metrics(), contentType: this.registry.contentType };
  }
}
