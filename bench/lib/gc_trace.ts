/**
 * V8's own account of a server's garbage: `node --trace-gc-nvp` prints one
 * line per collection with the bytes allocated since the previous one and
 * the bytes it promoted to the old generation. Their rate between the
 * first and the last collection of a window, divided by the rate of calls
 * answered in it, gives bytes per call that do not depend on how busy the
 * host is, unlike every figure measured in time.
 */
import type { Output } from "./latchkey.js";

/** One collection of the main thread's heap (the thread that serves). */
interface Collection {
  /** ms since the isolate started */
  at: number;
  kind: string;
  allocated: number;
  promoted: number;
  pauseMs: number;
}

export interface Garbage {
  /** bytes allocated on the main thread per second */
  allocatedPerSecond: number;
  /** bytes per second that outlived a scavenge and moved to the old generation */
  promotedPerSecond: number;
  /** scavenges per second */
  scavengesPerSecond: number;
  /** the main thread's time stopped in scavenges, ms per second */
  scavengePausePerSecond: number;
}

export class GcTrace implements Output {
  readonly nodeArgs = ["--trace-gc-nvp"];
  private collections: Collection[] = [];
  private partial = "";

  read = (chunk: Buffer): void => {
    const lines = (this.partial + chunk.toString("latin1")).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) {
      const collection = parseLine(line);
      if (collection) this.collections.push(collection);
    }
  };

  /** where a window starts or ends */
  mark(): number {
    return this.collections.length;
  }

  /**
   * What the collections between two marks reported, as rates between the
   * first and the last of them: what each one reports happened since the one
   * before, so the first one's figures belong to the time before the window.
   */
  between(from: number, to: number): Garbage {
    const window = this.collections.slice(from, to);
    if (window.length < 3) throw new Error(`only ${window.length} collections in the window: measure longer`);
    const seconds = (window[window.length - 1]!.at - window[0]!.at) / 1000;
    const after = window.slice(1);
    const scavenges = after.filter((c) => c.kind === "s");
    return {
      allocatedPerSecond: sum(after.map((c) => c.allocated)) / seconds,
      promotedPerSecond: sum(scavenges.map((c) => c.promoted)) / seconds,
      scavengesPerSecond: scavenges.length / seconds,
      scavengePausePerSecond: sum(scavenges.map((c) => c.pauseMs)) / seconds,
    };
  }
}

/**
 * `[pid:isolate:0]  1234 ms: pause=1.2 ... gc=s ... allocated=123 promoted=45 ...`;
 * the isolate numbered 0 is the main thread's, worker threads count from 1.
 */
function parseLine(line: string): Collection | undefined {
  const m = /^\[\d+:0x[0-9a-f]+:0\]\s+([\d.]+) ms: (.*)$/.exec(line);
  if (!m) return undefined;
  const fields = new Map(m[2]!.split(" ").map((kv) => kv.split("=", 2) as [string, string]));
  const kind = fields.get("gc");
  const allocated = Number(fields.get("allocated"));
  if (kind === undefined || !Number.isFinite(allocated)) return undefined;
  return { at: Number(m[1]), kind, allocated, promoted: Number(fields.get("promoted") ?? 0), pauseMs: Number(fields.get("pause") ?? 0) };
}

const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
