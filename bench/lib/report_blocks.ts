/** The bare, history, PostgreSQL and --workers blocks: their medians and ratios, as JSON and as markdown tables. */
import { NAMES, figuresOf, n0, n2, pct, workerFigures, x, type Figures, type M, type Scale, type WorkerServer } from "./figures.js";
import { median } from "./util.js";

interface Ratio {
  /** throughput of the one ÷ the other */
  rps: number;
  /** CPU per request of the one ÷ the other */
  cpu: number;
}

const ratio = (a: Figures | undefined, b: Figures | undefined): Ratio | undefined => (a && b ? { rps: a.rps / b.rps, cpu: a.cpuUs / b.cpuUs } : undefined);
const pick = (runs: readonly M[] | undefined, keep: (m: M) => boolean) => figuresOf((runs ?? []).filter(keep));

// ---------------------------------------------------------------- bare

/** Per protocol, the bare block's figures at saturation and their ratios. */
export function bareFigures(scale: Scale) {
  const of = (label: string, server: string) => pick(scale.bareRuns, (m) => m.label === label && m.server === server && m.offeredRps === undefined);
  return (["grpc", "connect", "rest"] as const).map((protocol) => {
    const reset = of(`${protocol} reset`, "latchkey");
    const noop = of(`${protocol} noop`, "latchkey");
    // REST has no bare counterpart: it is compared with the bare Connect JSON servers
    const bareProtocol = protocol === "rest" ? "connect" : protocol;
    const bare = of(`${bareProtocol} noop`, "bare");
    const append = of(`${bareProtocol} reset`, "bare");
    return {
      protocol,
      reset,
      noop,
      bare,
      append,
      resetOverBare: ratio(reset, bare),
      noopOverBare: ratio(noop, bare),
      appendOverBare: ratio(append, bare),
      resetOverAppend: ratio(reset, append),
    };
  });
}

export function bareTable(scale: Scale, lines: string[]): void {
  lines.push(
    "Against connect-node alone, saturation, medians of the rounds; latchkey and the bare servers take turns in every round (order reversed each round). " +
      "Bare no-op (`bench/bare/noop_server.ts`): the same no-op on `connectNodeAdapter`, a handler returning a constant, no interceptors, no REST gateway. " +
      "Bare append (`bench/bare/append_server.ts`): PasswordReset on `connectNodeAdapter` as one durable append and nothing else (a writer thread, group commit, WAL with synchronous=FULL; " +
      "no lookup, code, encryption, authentication, validation, limits or logging), the floor under latchkey's PasswordReset on this stack. " +
      "REST has no bare counterpart: its rows are divided by the bare Connect JSON servers. latchkey's REST no-op (`POST /bench/v1/noop/{id}`) runs every per-call feature " +
      "(the log line, the token check, the limits and their headers, validation, the error mapping) without connect-node.",
  );
  lines.push("");
  lines.push(
    "| protocol | server, call | req/s | req/s per round | server CPU µs/req (of it kernel) | server core busy (others on it) | p50 ms | p99 ms | ÷ bare no-op req/s | ÷ bare no-op CPU/req | ÷ bare append req/s | ÷ bare append CPU/req |",
  );
  lines.push("| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  const cells = (r: Ratio | undefined) => (r ? `${pct(r.rps)} | ${x(r.cpu)}` : " | ");
  for (const row of bareFigures(scale)) {
    const bare = row.protocol !== "rest";
    const entries: [string, Figures | undefined, Ratio | undefined, Ratio | undefined][] = [
      ["latchkey PasswordReset", row.reset, row.resetOverBare, row.resetOverAppend],
      ["latchkey no-op", row.noop, row.noopOverBare, undefined],
      ["bare append", bare ? row.append : undefined, row.appendOverBare, undefined],
      ["bare no-op", bare ? row.bare : undefined, undefined, undefined],
    ];
    for (const [name, f, overBare, overAppend] of entries) {
      if (!f) continue;
      lines.push(
        `| ${NAMES[row.protocol]} | ${name}${f.ok ? "" : " (check failed)"} | ${n0(f.rps)} | ${f.perRound.map(n0).join(" / ")} | ${n0(f.cpuUs)} (${n0(f.sysUs)}) | ` +
          `${pct(f.share)} (${pct(f.others)}) | ${n2(f.p50)} | ${n2(f.p99)} | ${cells(overBare)} | ${cells(overAppend)} |`,
      );
    }
  }
  lines.push("");
}

/**
 * The fixed-rate part of the bare block: per protocol, each server and call
 * at its offered rate (half of its own saturation; in results before that,
 * half of latchkey's PasswordReset saturation for all of them).
 */
export function bareAtRate(scale: Scale) {
  const at = (label: string, server: string) => {
    const runs = (scale.bareRuns ?? []).filter((m) => m.label === label && m.server === server && m.offeredRps !== undefined);
    const f = figuresOf(runs);
    return f && { ...f, offered: median(runs.map((m) => m.offeredRps!)) };
  };
  return (["grpc", "connect"] as const).map((protocol) => ({
    protocol,
    bare: at(`${protocol} noop`, "bare"),
    append: at(`${protocol} reset`, "bare"),
    noop: at(`${protocol} noop`, "latchkey"),
    reset: at(`${protocol} reset`, "latchkey"),
  }));
}

export function bareAtRateTable(scale: Scale, lines: string[]): void {
  const rows = bareAtRate(scale).filter((r) => r.reset !== undefined);
  if (rows.length === 0) return;
  lines.push(
    "The same servers at a fixed offered rate, each at half of its own saturation above (the latency target's load), after the latency warm-up, medians of the rounds: " +
      "the bare servers' tail is the stack's, the machine's and (the append's) durability's; the rest is latchkey's.",
  );
  lines.push("");
  lines.push("| protocol | server, call | offered req/s | answered req/s | server CPU µs/req (of it kernel) | server core busy | p50 ms | p99 ms | p99 ≤ 10 ms | p99 ÷ bare append p99 |");
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |");
  for (const row of rows) {
    const entries = [
      ["bare no-op", row.bare],
      ["bare append", row.append],
      ["latchkey no-op", row.noop],
      ["latchkey PasswordReset", row.reset],
    ] as const;
    for (const [name, f] of entries) {
      if (!f) continue;
      const overAppend = row.append && name !== "bare append" ? x(f.p99 / row.append.p99) : "";
      lines.push(
        `| ${NAMES[row.protocol]} | ${name}${f.ok ? "" : " (check failed)"} | ${n0(f.offered)} | ${n0(f.rps)} | ${n0(f.cpuUs)} (${n0(f.sysUs)}) | ${pct(f.share)} | ${n2(f.p50)} | ${n2(f.p99)} | ${f.p99 <= 10 ? "yes" : "no"} | ${overAppend} |`,
      );
    }
  }
  lines.push("");
}

// ---------------------------------------------------------------- history

type HistoryBlock = NonNullable<Scale["history"]>;

export function historyFigures(h: HistoryBlock) {
  const fresh = pick(h.runs, (m) => m.history === "fresh");
  const long = pick(h.runs, (m) => m.history === "long");
  return { fresh, long, longOverFresh: ratio(long, fresh) };
}

export function historyTable(h: HistoryBlock, lines: string[]): void {
  const f = historyFigures(h);
  lines.push(
    `History: PasswordReset over Connect JSON for the same ${h.users} users, seeded with ${n0(h.eventsPerUser.fresh)} events each (fresh) and with ${n0(h.eventsPerUser.long)} (long: ` +
      "password.code.added events written straight into SQLite), both stores in every round (order flipped each round), each from its seeded copy. " +
      "The runs themselves add events (the warm-up's too): the second column gives each user's events when the measured run started and when it ended.",
  );
  lines.push("");
  lines.push("| history | events per user, start → end | req/s | req/s per round | server CPU µs/req (of it kernel) | p50 ms | p99 ms | long ÷ fresh req/s | long ÷ fresh CPU/req |");
  lines.push("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [name, fig] of [["fresh", f.fresh], ["long", f.long]] as const) {
    if (!fig) continue;
    const r = name === "long" && f.longOverFresh ? `${pct(f.longOverFresh.rps)} | ${x(f.longOverFresh.cpu)}` : " | ";
    lines.push(
      `| ${name}${fig.ok ? "" : " (check failed)"} | ${n0(fig.eventsPerUserBefore)} → ${n0(fig.eventsPerUserAfter)} | ${n0(fig.rps)} | ${fig.perRound.map(n0).join(" / ")} | ${n0(fig.cpuUs)} (${n0(fig.sysUs)}) | ${n2(fig.p50)} | ${n2(fig.p99)} | ${r} |`,
    );
  }
  lines.push("");
}

// ---------------------------------------------------------------- PostgreSQL

type PostgresBlock = NonNullable<Scale["postgres"]>;

function postgresFigures(p: PostgresBlock) {
  const one = pick(p.runs, (m) => m.instances === 1);
  const two = pick(p.runs, (m) => m.instances === 2);
  const r = ratio(two, one);
  return { one, two, twoOverOne: r && one && two ? { ...r, databaseCpu: two.dbUs / one.dbUs } : undefined };
}

export function postgresTable(p: PostgresBlock, lines: string[]): void {
  if (!p.available) {
    lines.push(`PostgreSQL: not measured (${p.reason ?? "not run"}).`, "");
    return;
  }
  const f = postgresFigures(p);
  lines.push(
    `PostgreSQL (${p.version ?? "?"}, on core ${p.core ?? "?"} with the load generators, its default durable settings): PasswordReset over Connect JSON with \`--database-url\`, ` +
      "one latchkey instance against two on the server's core, the load from two wrk processes of 8 connections each (one per instance, or both at the one). " +
      "latchkey's CPU is summed over its instances; PostgreSQL's (postmaster and every backend) is apart. Both set-ups in every round (order flipped each round), each on a fresh copy of the seeded store.",
  );
  lines.push("");
  lines.push(
    "| latchkey instances | req/s | req/s per round | latchkey CPU µs/req (of it kernel) | PostgreSQL CPU µs/req | latchkey core busy (others on it) | p50 ms | p99 ms | 2 ÷ 1 req/s | 2 ÷ 1 latchkey CPU/req | 2 ÷ 1 PostgreSQL CPU/req |",
  );
  lines.push("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [n, fig] of [[1, f.one], [2, f.two]] as const) {
    if (!fig) continue;
    const r = n === 2 && f.twoOverOne ? `${x(f.twoOverOne.rps)} | ${x(f.twoOverOne.cpu)} | ${x(f.twoOverOne.databaseCpu)}` : " | | ";
    lines.push(
      `| ${n}${fig.ok ? "" : " (check failed)"} | ${n0(fig.rps)} | ${fig.perRound.map(n0).join(" / ")} | ${n0(fig.cpuUs)} (${n0(fig.sysUs)}) | ${n0(fig.dbUs)} | ${pct(fig.share)} (${pct(fig.others)}) | ${n2(fig.p50)} | ${n2(fig.p99)} | ${r} |`,
    );
  }
  lines.push("");
}

// ---------------------------------------------------------------- JSON

/** Each block's medians and the ratios its table gives, for the results JSON. */
export function summarize(scale: Scale) {
  return {
    users: scale.users,
    ...(scale.bareRuns?.length && {
      bare: Object.fromEntries(bareFigures(scale).map(({ protocol, ...rest }) => [protocol, rest])),
      bareAtRate: Object.fromEntries(bareAtRate(scale).map(({ protocol, ...rest }) => [protocol, rest])),
    }),
    ...(scale.history && { history: { users: scale.history.users, eventsPerUser: scale.history.eventsPerUser, ...historyFigures(scale.history) } }),
    ...(scale.postgres && {
      postgres: { available: scale.postgres.available, reason: scale.postgres.reason, version: scale.postgres.version, ...postgresFigures(scale.postgres) },
    }),
    ...(scale.workerRuns?.length && {
      workers: Object.fromEntries(
        (["grpc", "connect", "rest"] as const).map((p) => {
          const of = (server: WorkerServer) => {
            const one = workerFigures(scale, p, 1, server);
            const two = workerFigures(scale, p, 2, server);
            return { one, two, twoOverOne: ratio(two, one) };
          };
          return [p, { ...of("latchkey"), ...(p !== "rest" && { bareNoop: of("bare no-op"), bareAppend: of("bare append") }) }];
        }),
      ),
    }),
  };
}
