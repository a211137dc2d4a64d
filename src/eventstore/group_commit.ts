/**
 * Group commit: appends that arrive while a commit is under way wait for it
 * to end and then go together in the next transaction, so one fsync serves
 * them all and the group grows with the load. Each caller still hears back
 * only after the commit that holds its own events.
 */

/** What one append in a group came to: its result, or the domain error that undid only its own rows. */
export type Outcome<R> = { ok: R } | { error: Error };

interface Pending<T, R> {
  readonly item: T;
  resolve(result: R): void;
  reject(err: unknown): void;
}

export class GroupCommit<T, R> {
  private queue: Pending<T, R>[] = [];
  private running: Promise<void> | undefined;

  /**
   * @param commit commits a group in one transaction and returns one outcome
   * per item, in order; when it throws, every item of the group fails with it
   */
  constructor(private readonly commit: (items: readonly T[]) => Promise<Outcome<R>[]>) {}

  submit(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.running ??= this.drain();
    });
  }

  /** Resolves once everything submitted so far has been committed or failed. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    // let the appends of the current turn of the event loop join the first group
    await new Promise<void>((resolve) => setImmediate(resolve));
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        const outcomes = await this.commit(group.map((p) => p.item));
        group.forEach((pending, i) => {
          const outcome = outcomes[i]!;
          if ("ok" in outcome) pending.resolve(outcome.ok);
          else pending.reject(outcome.error);
        });
      } catch (err) {
        for (const pending of group) pending.reject(err);
      }
    }
    this.running = undefined;
  }
}
