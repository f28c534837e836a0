import type { Insertable, Selectable } from 'kysely';
import { guard, type RepoContext, toEpochMs } from './context.js';
import type { KnownInstancesTable } from './instance-schema.js';

/** A VM as opsbot last saw it: which instance id carried this name in this zone, and when that was seen. */
export interface KnownInstance {
  readonly project: string;
  readonly zone: string;
  readonly name: string;
  readonly id: string;
  readonly creationTimestamp: string | null;
  readonly seenAt: Date;
}

/** A name in a project, in one zone or (zone null) in any. */
export interface KnownInstanceQuery {
  readonly project: string;
  readonly zone: string | null;
  readonly name: string;
}

/** Rows per INSERT: 6 parameters a row stays far below SQLite's and PostgreSQL's parameter limits. */
const CHUNK = 500;

export const toKnownInstance = (r: Selectable<KnownInstancesTable>): KnownInstance => ({
  project: r.project,
  zone: r.zone,
  name: r.name,
  id: r.instance_id,
  creationTimestamp: r.creation_timestamp,
  seenAt: new Date(Number(r.seen_at)),
});

export const toKnownInstanceRow = (k: KnownInstance): Insertable<KnownInstancesTable> => ({
  project: k.project,
  zone: k.zone,
  name: k.name,
  instance_id: k.id,
  creation_timestamp: k.creationTimestamp,
  seen_at: toEpochMs(k.seenAt, 'seenAt'),
});

/**
 * The instance identities opsbot has seen (src/store/instance-schema.ts): one row per project, zone and name,
 * the newest sighting winning (a slower writer with an older sighting never overwrites a newer one).
 */
export class KyselyInstanceRepository {
  readonly #ctx: RepoContext;
  constructor(ctx: RepoContext) {
    this.#ctx = ctx;
  }

  /** Every remembered VM of that name in the project (and zone, when given), most recently seen first. */
  async find(query: KnownInstanceQuery): Promise<KnownInstance[]> {
    const rows = await guard(this.#ctx, 'instances.find', () => {
      let q = this.#ctx.db
        .selectFrom('known_instances')
        .selectAll()
        .where('project', '=', query.project)
        .where('name', '=', query.name);
      if (query.zone !== null) q = q.where('zone', '=', query.zone);
      return q.orderBy('seen_at', 'desc').execute();
    });
    return rows.map(toKnownInstance);
  }

  /** Records sightings (an upsert per project, zone and name; an older sighting than the stored one is ignored). */
  async remember(instances: readonly KnownInstance[]): Promise<void> {
    // One row per key in a batch (PostgreSQL refuses to touch a row twice in one statement): the newest wins.
    const byKey = new Map<string, Insertable<KnownInstancesTable>>();
    for (const k of instances) {
      const row = toKnownInstanceRow(k);
      const key = `${row.project}\u0000${row.zone}\u0000${row.name}`;
      const had = byKey.get(key);
      if (!had || had.seen_at <= row.seen_at) byKey.set(key, row);
    }
    const rows = [...byKey.values()];
    for (let i = 0; i < rows.length; i += CHUNK) {
      const chunk = rows.slice(i, i + CHUNK);
      await guard(this.#ctx, 'instances.remember', () =>
        this.#ctx.db
          .insertInto('known_instances')
          .values(chunk)
          .onConflict((oc) =>
            oc
              .columns(['project', 'name', 'zone'])
              .doUpdateSet((eb) => ({
                instance_id: eb.ref('excluded.instance_id'),
                creation_timestamp: eb.ref('excluded.creation_timestamp'),
                seen_at: eb.ref('excluded.seen_at'),
              }))
              .where('known_instances.seen_at', '<=', (eb) => eb.ref('excluded.seen_at')),
          )
          .execute(),
      );
    }
  }
}
