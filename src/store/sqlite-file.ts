/** Where and how the SQLite store lives, shared by openStore and the CLI's direct audit append (no Kysely). */
export const SQLITE_FILE_NAME = 'opsbot.sqlite';
// Generous: a CLI run next to the server, or a checkpoint on a loaded machine, must make a writer wait, not fail.
export const DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 15_000;
