import { AppError } from '../../core/errors.js';
import { editAnsibleVars, listAnsibleEntries } from './ansible-vars.js';
import { editListFile, listListFileEntries } from './list-file.js';
import type { LockEntry, VersionlockFileOptions, VersionlockOutcome, VersionlockRequest } from './types.js';

/**
 * Edits a versionlock file's content (pure: text in, coded outcome out). Expected cases (already locked,
 * not locked) are `nothing-to-do`; invalid input and unreadable files throw AppError('bad_input') whose
 * message names the broken rule. `content` null means the file does not exist yet (yum/dnf only).
 */
export const editVersionlock = (
  content: string | null,
  request: VersionlockRequest,
  options: VersionlockFileOptions,
): VersionlockOutcome => {
  if (content?.includes('\0')) {
    throw new AppError('bad_input', 'the file contains NUL bytes: not a versionlock list');
  }
  switch (options.format) {
    case 'yum':
    case 'dnf':
      return editListFile(options.format, content ?? '', request, options);
    case 'ansible-vars':
      if (content === null) {
        throw new AppError(
          'bad_input',
          'the Ansible vars file does not exist: opsbot edits an existing list',
        );
      }
      return editAnsibleVars(content, request, options);
    default:
      throw new AppError('bad_input', `unknown versionlock format ${JSON.stringify(options.format)}`);
  }
};

/** The lock (and exclude) entries of a file, in order. */
export const listVersionlocks = (content: string, options: VersionlockFileOptions): LockEntry[] => {
  if (options.format === 'ansible-vars') {
    if (!options.key) throw new AppError('bad_input', 'ansible-vars needs the key path of the list');
    return listAnsibleEntries(content, options.key);
  }
  return listListFileEntries(content);
};
