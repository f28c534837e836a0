import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimpleGit, SimpleGitFactory } from 'simple-git';
import { IntegrationError } from '../../core/errors.js';
import { onceUntilRejected } from '../../core/once.js';
import type { GitCredential } from './credential.js';

/**
 * A throwaway git workspace for changing someone's branch: real git (through simple-git over the git CLI), a
 * shallow single-branch fetch over HTTPS into a fresh temporary directory, `git apply --check` before
 * `git apply`, a commit by the bot (a new commit, or the last one amended), and a push that can never lose a
 * commit: `--force-with-lease=<branch>:<head seen at preview>` in both modes (in add-commit mode the push is a
 * fast-forward; the lease also refuses a branch deleted since, which a normal push would recreate).
 *
 * `prepareBranchChange` does everything but the push and hands back the prepared commit (its diff, files and
 * sha) holding the workspace: `push()` pushes that very commit, `dispose()` removes the directory. A caller
 * that previews and pushes in one go (the CLI) does the git work once; one that must wait for an approval
 * (Slack) disposes after the preview and prepares again on the previewed head when approved. Every outcome
 * but `ready` has removed its directory already; a `ready` one is removed by `dispose()` (safe to repeat).
 *
 * The token reaches git only through the child's environment (`GIT_CONFIG_COUNT` with
 * `http.<remote url>.extraHeader`, scoped to the remote so a redirect to another host does not get it): never
 * the URL, an argument list, the directory's config or an error message. System and global git config are
 * ignored, so a host's credential helper or URL rewrite cannot take part.
 */

export interface GitRemote {
  /** https URL of the repository holding the branch, without credentials. */
  readonly url: string;
  readonly credential: GitCredential;
}

export interface GitIdentity {
  readonly name: string;
  readonly email: string;
}

export interface BranchChangeInput {
  readonly remote: GitRemote;
  readonly branch: string;
  /** The head the change was planned on (the preview's): anything else and nothing is pushed. */
  readonly expectedHead: string | null;
  /** A unified diff (git or plain), already checked by the caller for paths and binary content. */
  readonly patch: string;
  readonly mode: 'add' | 'amend';
  /** The commit message; in amend mode null keeps the amended commit's message. */
  readonly message: string | null;
  /** Trailers appended to the message (`Key: value`). */
  readonly trailers: readonly (readonly [string, string])[];
  /** The bot: committer always, author of an added commit (an amended commit keeps its author). */
  readonly identity: GitIdentity;
  /** Where temporary directories go (default: the OS temp dir). */
  readonly tmpRoot?: string;
  /** Per git command deadline (default 120 s). */
  readonly timeoutMs?: number;
  /**
   * Stops the git work (the CLI's Ctrl-C): the running git is killed, no later one starts (the push included),
   * the call rejects, and the workspace is removed as on any failure.
   */
  readonly signal?: AbortSignal;
}

export interface BranchCommit {
  readonly sha: string;
  readonly author: string;
  readonly subject: string;
  /** The commit message's trailers ("Key: value" lines, unfolded), e.g. to recognise a commit of one's own. */
  readonly trailers: string;
}

/** The commit a change made, not pushed yet (`ready`) or on the branch (`pushed`). */
export interface BranchChangeDone {
  readonly oldSha: string;
  readonly newSha: string;
  /** What the push changes on the branch: `git diff <old head> <new head>`. */
  readonly diff: string;
  readonly files: readonly string[];
}

/** The branch is not where the preview saw it: nothing was pushed. */
export interface BranchHeadMoved {
  readonly kind: 'head_moved';
  readonly expected: string | null;
  readonly actual: string | null;
  /** Commits on the branch since `expected`, newest first (at most 10). */
  readonly commits: readonly BranchCommit[];
}

/** A push's outcome: the branch points at `newSha`, or it moved and nothing was pushed. */
export type BranchPushOutcome = (BranchChangeDone & { readonly kind: 'pushed' }) | BranchHeadMoved;

/**
 * The commit made and checked in its workspace, not pushed. The workspace stays until `dispose()`, which every
 * holder calls on every path (in a `finally`); `push()` may be called once, before it.
 */
export interface PreparedBranchChange extends BranchChangeDone {
  readonly kind: 'ready';
  /**
   * Pushes `newSha` onto the head it was made on (`--force-with-lease` on that head): `head_moved`, with who pushed what, when the branch is elsewhere by then. Throws
   * IntegrationError('git') for git or network failures.
   */
  push(): Promise<BranchPushOutcome>;
  /** Removes the workspace. Safe to call more than once; `push()` after it throws. */
  dispose(): Promise<void>;
}

export type BranchPrepareOutcome =
  | PreparedBranchChange
  /** The patch is already on the branch (it applies in reverse): nothing to do. */
  | { readonly kind: 'already_applied'; readonly head: string }
  | BranchHeadMoved
  | { readonly kind: 'branch_missing' }
  | { readonly kind: 'patch_failed'; readonly detail: string; readonly hunk: string | null };

const GIT_DEADLINE_MS = 120_000;

/**
 * The environment of every git child: nothing inherited but PATH. `maintenance.auto=false`: the fetch and the
 * commit would each start a `git maintenance run --auto` process for a repository deleted a moment later.
 */
const baseEnv = (home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: home,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'maintenance.auto',
  GIT_CONFIG_VALUE_0: 'false',
  GIT_TERMINAL_PROMPT: '0',
  LANG: 'C',
  LC_ALL: 'C',
});

/** The git error text, with the token and anything credential-looking removed, at most a few lines. */
const cleanGitMessage = (err: unknown, secrets: readonly string[]): string => {
  let text = err instanceof Error ? err.message : String(err);
  for (const s of secrets) if (s) text = text.split(s).join('[redacted]');
  text = text.replace(/(https?:\/\/)[^/@\s]+@/g, '$1');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^hint:/.test(l))
    .slice(0, 6)
    .join('\n')
    .slice(0, 800);
};

/** The hunk git apply names in "error: patch failed: <file>:<line>", cut from the patch. */
export const failedHunkOf = (patch: string, detail: string): string | null => {
  const m = /patch failed: (.+):(\d+)/.exec(detail);
  if (!m) return null;
  const [, file = '', lineText = ''] = m;
  const line = Number(lineText);
  const lines = patch.split('\n');
  let inFile = false;
  let best: string[] | null = null;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i] ?? '';
    if (l.startsWith('+++ ')) {
      const target = l
        .slice(4)
        .replace(/\t.*$/, '')
        .replace(/^[ab]\//, '');
      inFile = target === file;
      continue;
    }
    if (l.startsWith('diff --git ')) inFile = false;
    if (!inFile) continue;
    const h = /^@@ -(\d+)(?:,\d+)? \+\d+(?:,\d+)? @@/.exec(l);
    if (!h) continue;
    const hunk = [l];
    for (let j = i + 1; j < lines.length; j++) {
      const x = lines[j] ?? '';
      if (/^(@@ |diff --git |--- |\+\+\+ )/.test(x)) break;
      hunk.push(x);
    }
    if (Number(h[1]) === line) return hunk.join('\n').replace(/\n+$/, '');
    best ??= hunk;
  }
  return best ? best.join('\n').replace(/\n+$/, '') : null;
};

/**
 * simple-git, loaded on the first branch change (or ahead of it by `warmGitWorkspace`), not when the process
 * starts: a server without a forge never changes a branch.
 */
const loadSimpleGit = onceUntilRejected(
  async (): Promise<SimpleGitFactory> => (await import('simple-git')).simpleGit,
);

/** Loads simple-git ahead of the first branch change (never rejects; a failure shows again on that call). */
export const warmGitWorkspace = async (): Promise<void> => {
  await loadSimpleGit().catch(() => undefined);
};

const isRejection = (text: string) =>
  /\[rejected\]|stale info|non-fast-forward|fetch first|\(stale info\)|failed to push some refs/i.test(text);

/**
 * Applies `patch` to `branch` of `remote` and commits it in a new workspace, without pushing: `ready` holds the
 * workspace until its `dispose()`. Throws IntegrationError('git') for git or network failures (a bad token, an
 * unreachable forge), having removed the workspace; every refusal is returned as data.
 */
export const prepareBranchChange = async (input: BranchChangeInput): Promise<BranchPrepareOutcome> => {
  const root = await mkdtemp(join(input.tmpRoot ?? tmpdir(), 'opsbot-amend-'));
  const secrets = input.remote.credential.secretValues();
  const timeout = input.timeoutMs ?? GIT_DEADLINE_MS;
  let disposed = false;
  /** The push in flight, if any: the workspace is removed after it ends. */
  let pushing: Promise<unknown> | null = null;
  const dispose = async (): Promise<void> => {
    disposed = true;
    await pushing?.catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  };
  let handedOver = false;
  try {
    const simpleGit = await loadSimpleGit();
    const work = join(root, 'repo');
    const env = baseEnv(root);
    // Only what git's own environment parsing allows: config count, system/global config paths.
    const unsafe = { allowUnsafeConfigEnvCount: true, allowUnsafeConfigPaths: true } as const;
    const options = {
      unsafe,
      timeout: { block: timeout },
      ...(input.signal ? { abort: input.signal } : {}),
    };
    const init = simpleGit({ baseDir: root, ...options }).env(env);
    await init.raw(['init', '--quiet', work]);
    const identity = {
      GIT_AUTHOR_NAME: input.identity.name,
      GIT_AUTHOR_EMAIL: input.identity.email,
      GIT_COMMITTER_NAME: input.identity.name,
      GIT_COMMITTER_EMAIL: input.identity.email,
    };
    const local: SimpleGit = simpleGit({ baseDir: work, ...options }).env({
      ...env,
      ...identity,
    });
    const remote: SimpleGit = simpleGit({ baseDir: work, ...options }).env({
      ...env,
      GIT_CONFIG_COUNT: '2',
      GIT_CONFIG_KEY_1: `http.${input.remote.url}.extraHeader`,
      GIT_CONFIG_VALUE_1: input.remote.credential.authorizationHeader(),
    });
    const networked = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        throw new IntegrationError('git', `git ${what} failed: ${cleanGitMessage(err, secrets)}`, {
          retryable: true,
        });
      }
    };

    const tracking = `refs/remotes/origin/${input.branch}`;
    const fetchBranch = (depth: number) =>
      networked('fetch', () =>
        remote.raw([
          'fetch',
          '--quiet',
          '--no-tags',
          `--depth=${depth}`,
          input.remote.url,
          `+refs/heads/${input.branch}:${tracking}`,
        ]),
      );
    const headOf = async (): Promise<string | null> => {
      const out = await remote.raw(['ls-remote', '--heads', input.remote.url, `refs/heads/${input.branch}`]);
      const line = out.split('\n').find((l) => l.endsWith(`\trefs/heads/${input.branch}`));
      return line ? (line.split('\t')[0] ?? null) : null;
    };
    const moved = async (actual: string | null): Promise<BranchHeadMoved> => {
      if (actual === null) return { kind: 'head_moved', expected: input.expectedHead, actual, commits: [] };
      await fetchBranch(50);
      const log = await local.raw([
        'log',
        '--format=%H%x1f%an <%ae>%x1f%s%x1f%(trailers:only,unfold)%x1e',
        '-n',
        '50',
        tracking,
      ]);
      const commits: BranchCommit[] = [];
      for (const record of log.split('\x1e')) {
        const line = record.replace(/^\n+/, '');
        if (line === '') continue;
        const [sha = '', author = '', subject = '', trailers = ''] = line.split('\x1f');
        if (sha === input.expectedHead) break;
        commits.push({ sha, author, subject, trailers: trailers.trim() });
        if (commits.length >= 10) break;
      }
      return { kind: 'head_moved', expected: input.expectedHead, actual, commits };
    };

    const remoteHead = await networked('ls-remote', headOf);
    if (remoteHead === null) return { kind: 'branch_missing' };
    if (input.expectedHead !== null && remoteHead !== input.expectedHead) return await moved(remoteHead);
    // Amending needs the head's parents present: in a depth-1 clone the head looks parentless, and the
    // amended commit would silently drop the branch's history.
    await fetchBranch(input.mode === 'amend' ? 2 : 1);
    const head = (await local.raw(['rev-parse', '--verify', `${tracking}^{commit}`])).trim();
    if (input.expectedHead !== null && head !== input.expectedHead) return await moved(head);
    await local.raw(['checkout', '--quiet', '-B', input.branch, tracking]);

    const patchFile = join(root, 'change.patch');
    await writeFile(patchFile, input.patch.endsWith('\n') ? input.patch : `${input.patch}\n`, {
      mode: 0o600,
    });
    try {
      await local.raw(['apply', '--check', '--index', patchFile]);
    } catch (err) {
      const detail = cleanGitMessage(err, secrets);
      try {
        await local.raw(['apply', '--check', '--reverse', '--index', patchFile]);
        return { kind: 'already_applied', head };
      } catch {
        return { kind: 'patch_failed', detail, hunk: failedHunkOf(input.patch, detail) };
      }
    }
    await local.raw(['apply', '--index', '--whitespace=nowarn', patchFile]);
    const staged = (await local.raw(['diff', '--cached', '--name-only', '-z'])).split('\0').filter(Boolean);
    if (staged.length === 0) return { kind: 'already_applied', head };

    const base =
      input.mode === 'amend'
        ? (input.message ?? (await local.raw(['log', '-1', '--format=%B', 'HEAD'])))
        : (input.message ?? 'Change by opsbot');
    const message = withTrailers(base, input.trailers);
    const messageFile = join(root, 'message.txt');
    await writeFile(messageFile, message, { mode: 0o600 });
    await local.raw([
      'commit',
      '--quiet',
      '--no-verify',
      ...(input.mode === 'amend' ? ['--amend'] : []),
      '--cleanup=verbatim',
      '-F',
      messageFile,
    ]);
    const newSha = (await local.raw(['rev-parse', 'HEAD'])).trim();
    // Never push a commit that loses history: the new commit's parents are the old head (add) or the old
    // head's parents as its object records them (amend).
    const parentsOf = async (sha: string) =>
      [
        ...((await local.raw(['cat-file', 'commit', sha])).split('\n\n')[0] ?? '').matchAll(
          /^parent ([0-9a-f]+)$/gm,
        ),
      ]
        .map((x) => x[1])
        .join(' ');
    const expectedParents = input.mode === 'amend' ? await parentsOf(head) : head;
    if ((await parentsOf(newSha)) !== expectedParents) {
      throw new IntegrationError(
        'git',
        'the new commit would not keep the branch history; nothing was pushed',
      );
    }
    const diff = await local.raw(['diff', '--no-color', '--no-ext-diff', head, newSha]);

    const done = { oldSha: head, newSha, diff, files: staged };
    const push = async (): Promise<BranchPushOutcome> => {
      const target = `refs/heads/${input.branch}`;
      try {
        await remote.raw([
          'push',
          '--porcelain',
          '--no-verify',
          // On the head the commit was made on, in both modes: refused when the branch moved or was deleted
          // since (a normal push would recreate a deleted branch; in add mode it is a fast-forward anyway).
          `--force-with-lease=${target}:${head}`,
          input.remote.url,
          `${newSha}:${target}`,
        ]);
      } catch (err) {
        const text = cleanGitMessage(err, secrets);
        if (isRejection(text)) return await moved(await networked('ls-remote', headOf));
        throw new IntegrationError('git', `git push failed: ${text}`, { retryable: true });
      }
      return { kind: 'pushed', ...done };
    };
    const prepared: PreparedBranchChange = {
      kind: 'ready',
      ...done,
      push: () => {
        if (disposed) return Promise.reject(new Error('push() after dispose(): the workspace is gone'));
        if (pushing) return Promise.reject(new Error('push() called twice'));
        const pushed = push();
        pushing = pushed;
        return pushed;
      },
      dispose,
    };
    handedOver = true;
    return prepared;
  } finally {
    if (!handedOver) await dispose();
  }
};

/** The message with `Key: value` trailers in a final paragraph (after the existing trailers, if any). */
export const withTrailers = (message: string, trailers: readonly (readonly [string, string])[]): string => {
  const body = message.replace(/\s+$/, '');
  if (trailers.length === 0) return `${body}\n`;
  const lines = trailers.map(([k, v]) => `${k}: ${v.replace(/[\r\n]+/g, ' ')}`);
  const paragraphs = body.split(/\n\n/);
  const last = paragraphs[paragraphs.length - 1] ?? '';
  const lastIsTrailers = paragraphs.length > 1 && last.split('\n').every((l) => /^[A-Za-z0-9-]+: .+/.test(l));
  const fresh = lines.filter((l) => !last.split('\n').includes(l));
  return lastIsTrailers ? `${body}\n${fresh.join('\n')}\n` : `${body}\n\n${lines.join('\n')}\n`;
};
