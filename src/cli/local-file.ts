import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, lstat, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { AppError, isAppError } from '../core/errors.js';
import { unifiedDiff } from '../playbooks/diff.js';
import { type CliIo, EXIT_FAILURE, EXIT_USAGE } from './io.js';

/**
 * Local files for the offline editing commands (`opsbot versionlock`, `opsbot tf-import`): refuse paths with
 * `..` and anything that is not a regular file, read strict UTF-8, and write atomically (a temp file in the
 * same directory, fsync, rename) keeping the file's mode.
 */

export interface LocalFile {
  readonly path: string; // absolute
  readonly display: string; // for diff headers
  readonly exists: boolean;
  readonly mode: number | null;
}

const MAX_BYTES = 5 * 1024 * 1024;

export const resolveLocalFile = async (input: string, cwd: string): Promise<LocalFile> => {
  if (input === '' || input.includes('\0'))
    throw new AppError('bad_input', 'refused: the file path is empty or has a NUL');
  if (input.split(/[\\/]+/).includes('..')) {
    throw new AppError(
      'bad_input',
      `refused: the path ${JSON.stringify(input)} contains ".." (path traversal)`,
    );
  }
  const path = resolve(cwd, input);
  const rel = relative(cwd, path);
  const display =
    !isAbsolute(input) && rel && !rel.startsWith('..') ? rel.split(sep).join('/') : path.replace(/^\/+/, '');
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        const dir = await lstat(dirname(path));
        if (!dir.isDirectory()) throw new Error('not a directory');
      } catch {
        throw new AppError('bad_input', `refused: the directory of ${input} does not exist`);
      }
      return { path, display, exists: false, mode: null };
    }
    throw new AppError(
      'bad_input',
      `cannot read ${input}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  if (st.isSymbolicLink())
    throw new AppError('bad_input', `refused: ${input} is a symbolic link, not a regular file`);
  if (!st.isFile()) throw new AppError('bad_input', `refused: ${input} is not a regular file`);
  if (st.size > MAX_BYTES)
    throw new AppError('bad_input', `refused: ${input} is larger than ${MAX_BYTES} bytes`);
  return { path, display, exists: true, mode: st.mode & 0o7777 };
};

/** The file's text, or null when it does not exist. Not UTF-8 -> AppError('bad_input'). */
export const readLocalFile = async (file: LocalFile): Promise<string | null> => {
  if (!file.exists) return null;
  let bytes: Buffer;
  try {
    bytes = await readFile(file.path);
  } catch (err) {
    throw new AppError(
      'bad_input',
      `cannot read ${file.display}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new AppError('bad_input', `refused: ${file.display} is not UTF-8 text`);
  }
};

/**
 * Replaces the file with `content` atomically, only if it still holds `expected` (null: must not exist),
 * so an edit computed from an older read never overwrites someone else's change.
 */
export const writeLocalFileAtomic = async (
  file: LocalFile,
  expected: string | null,
  content: string,
): Promise<void> => {
  const now = await resolveLocalFile(file.path, dirname(file.path));
  const current = await readLocalFile(now);
  if (current !== expected) {
    throw new AppError(
      'conflict',
      `refused: ${file.display} changed while it was being edited; run the command again`,
    );
  }
  const tmp = join(
    dirname(file.path),
    `.${basename(file.path)}.opsbot-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
  const mode = file.mode ?? 0o644;
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
    await handle.close();
    await chmod(tmp, mode); // the umask may have narrowed it
    await rename(tmp, file.path);
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
};

/**
 * The end of an offline edit: the diff on stdout (so it can be piped to `patch`), the summary on stderr, and
 * the file written only with `--write`.
 */
export const showLocalEdit = async (
  io: CliIo,
  file: LocalFile,
  before: string | null,
  edit: { readonly after: string; readonly summary: string },
  write: boolean,
): Promise<void> => {
  io.stdout.write(unifiedDiff(file.display, before, edit.after));
  io.stderr.write(`${edit.summary}\n`);
  if (write) {
    await writeLocalFileAtomic(file, before, edit.after);
    io.stderr.write(`wrote ${file.display}\n`);
  }
};

/**
 * The exit of an offline editing command that threw: a coded AppError is the user's to fix (its message,
 * usage exit), anything else is unexpected.
 */
export const localEditFailure = (io: CliIo, command: string, err: unknown): number => {
  if (isAppError(err) && err.code !== 'internal') {
    io.stderr.write(`opsbot ${command}: ${err.userMessage}\n`);
    return EXIT_USAGE;
  }
  const message = isAppError(err) ? err.userMessage : err instanceof Error ? err.message : String(err);
  io.stderr.write(`opsbot ${command}: unexpected error: ${message}\n`);
  return EXIT_FAILURE;
};
