/**
 * The store's directory when the config does not name one (`store.dataDir`). Its own module, without the
 * config schema, so a run without a config file (the CLI writing its audit row) finds the store without
 * loading zod and yaml.
 */
export const DEFAULT_DATA_DIR = './data';
