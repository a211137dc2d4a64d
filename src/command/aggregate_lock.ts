/**
 * Serialises commands on the same aggregate within this process, so that
 * concurrent requests for one user queue instead of failing their optimistic
 * check over and over. Other processes are still caught by that check.
 */
export class AggregateLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(work, work);
    const tail = current.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
