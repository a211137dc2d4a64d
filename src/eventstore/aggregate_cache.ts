import type { StoredEvent } from "./eventstore.js";

/**
 * The events of recently used aggregates, so that a command reads only what
 * was appended since (usually nothing) instead of the whole history. Events
 * never change once stored, so a cached prefix stays true; whatever another
 * process appended is found by reading past the cached sequence. Holds at
 * most `maxEvents` events, dropping the least recently used aggregates.
 */
export class AggregateCache {
  private readonly entries = new Map<string, readonly StoredEvent[]>();
  private size = 0;

  constructor(private readonly maxEvents: number) {}

  get(key: string): readonly StoredEvent[] | undefined {
    const events = this.entries.get(key);
    if (events) {
      this.entries.delete(key);
      this.entries.set(key, events);
    }
    return events;
  }

  /** Extends the entry with later events, or starts it when they begin at sequence 1. */
  extend(key: string, later: readonly StoredEvent[]): void {
    if (later.length === 0) return;
    const known = this.entries.get(key) ?? [];
    if (later[0]!.sequence !== known.length + 1) {
      this.delete(key);
      return;
    }
    this.delete(key);
    this.entries.set(key, [...known, ...later]);
    this.size += known.length + later.length;
    for (const [oldest, events] of this.entries) {
      if (this.size <= this.maxEvents) break;
      this.entries.delete(oldest);
      this.size -= events.length;
    }
  }

  delete(key: string): void {
    const events = this.entries.get(key);
    if (!events) return;
    this.entries.delete(key);
    this.size -= events.length;
  }
}
