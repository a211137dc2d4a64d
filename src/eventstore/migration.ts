/**
 * A schema change, applied once per database and recorded in
 * `schema_migrations`. Each backend keeps its own list in its own SQL; a
 * migration's text never changes once released.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Refuses a list whose versions do not strictly ascend: they are applied and recorded in this order. */
export function assertAscending(database: string, migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    const previous = migrations[i - 1];
    if (previous !== undefined && m.version <= previous.version) {
      throw new Error(`${database} migration ${m.version} must come after ${previous.version}`);
    }
  });
}
