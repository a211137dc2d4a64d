/**
 * Whether commands should try their decision on the state kept in memory
 * before reading the store, learned from how those tries end. Where this
 * process makes nearly all the appends the kept state is current and the try
 * saves a read; where another instance appends to the same aggregates it is
 * often stale, and each stale try costs a refused append, a wait and the read
 * after all. So tries continue while at least `threshold` of the recent ones
 * were current; below that one command in `probeEvery` still tries, so that
 * the tries resume once the other writers are gone.
 */
export class KeptPolicy {
  private current = 1;
  private sinceProbe = 0;

  constructor(
    private readonly options: { threshold: number; weight: number; probeEvery: number } = { threshold: 0.8, weight: 1 / 32, probeEvery: 32 },
  ) {}

  /** Whether the next command tries the kept state first. */
  allows(): boolean {
    if (this.current >= this.options.threshold) return true;
    if (++this.sinceProbe < this.options.probeEvery) return false;
    this.sinceProbe = 0;
    return true;
  }

  /** How a try on kept state ended: its append was accepted (current) or refused for a newer sequence. */
  record(current: boolean): void {
    this.current += ((current ? 1 : 0) - this.current) * this.options.weight;
  }

  /** The share of recent tries that found the kept state current, for tests and logs. */
  get share(): number {
    return this.current;
  }
}
