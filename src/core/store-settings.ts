/**
 * The store's directory when the config does not name one (`store.dataDir`). Its own module, without the
 * config schema, so a run without a config file (the CLI writing its audit row) finds the store without
 * loading zod and yaml.
 */
export const DEFAULT_DATA_DIR = './data';

/**
 * PostgreSQL: how long a query may go without an answer before it fails and its connection is dropped
 * (`store.queryTimeoutMs`). After a failover or a network drop the connections open at that moment may never
 * answer again and nothing resets them; without a bound, a command waits forever and the background loops
 * stop. Well above any query opsbot makes.
 */
export const DEFAULT_QUERY_TIMEOUT_MS = 15_000;
