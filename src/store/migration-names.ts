/**
 * The names of the schema's migrations (src/store/migrations.ts), in order, without Kysely: a short-lived
 * process (the CLI writing its audit row) checks the file's schema is current with these before it appends
 * through node:sqlite directly. A test keeps this list equal to the migrations' names; when it lags, the
 * check fails and the caller opens the store the full way, so a stale list costs time, never correctness.
 */
export const MIGRATION_NAMES: readonly string[] = [
  '0001_initial',
  '0002_change_actor_names',
  '0003_change_lifecycle',
  '0004_pipelines',
  '0005_watch',
  '0006_known_instances',
];
