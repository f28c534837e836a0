import type { ColumnType } from 'kysely';

/**
 * Times are epoch milliseconds in a 64-bit integer column (SQLite INTEGER, PostgreSQL BIGINT): both engines
 * round-trip them exactly and compare them cheaply. `pg` returns BIGINT as a string, so reads are typed
 * `number | string` and go through `Number()`. (Its own file: schema.ts and pipeline-schema.ts both use it.)
 */
export type EpochMs = ColumnType<number | string, number, number>;
