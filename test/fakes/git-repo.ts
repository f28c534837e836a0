import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real git repositories for the forge fakes and their tests. Everything goes through the `git` CLI
 * (plumbing only, never a worktree), so commits, trees, blobs and refs are the real thing and a test can
 * check with `git` exactly what an adapter wrote.
 */

export interface GitRunOptions {
  readonly input?: string | Buffer;
  readonly env?: Readonly<Record<string, string>>;
}

export interface TreeEdit {
  readonly path: string;
  /** Blob sha to place at `path`, or null to delete it. */
  readonly sha: string | null;
  readonly mode?: string;
}

export interface GitAuthor {
  readonly name: string;
  readonly email: string;
}

export interface GitRepo {
  /** Path of the bare repository. */
  readonly dir: string;
  readonly defaultBranch: string;
  git(args: readonly string[], opts?: GitRunOptions): Promise<string>;
  /** Full sha a ref resolves to, or null. */
  revParse(ref: string): Promise<string | null>;
  /** Branch names (without refs/heads/), sorted. */
  listBranches(): Promise<string[]>;
  /** A file's UTF-8 content at a ref, or null when absent. */
  readFile(ref: string, path: string): Promise<string | null>;
  /** Blob sha of `path` at `ref`, or null. */
  blobSha(ref: string, path: string): Promise<string | null>;
  /** Every file at a ref, path -> content. */
  readTree(ref: string): Promise<Record<string, string>>;
  /** Mode + type of every entry below `dir` at ref (one level). */
  listDir(ref: string, dir: string): Promise<Array<{ path: string; type: 'blob' | 'tree'; sha: string }>>;
  writeBlob(content: string | Buffer): Promise<string>;
  /** Builds a tree from `base` (a tree-ish or null) plus edits, using a private index file. */
  buildTree(base: string | null, edits: readonly TreeEdit[]): Promise<string>;
  commitTree(tree: string, parents: readonly string[], message: string, author?: GitAuthor): Promise<string>;
  /** Compare-and-swap a ref: `expectedOld` null means "must not exist". Returns false if the ref moved. */
  updateRef(ref: string, sha: string, expectedOld: string | null): Promise<boolean>;
  /** Commits files straight onto a branch (as a colleague's push would); null content deletes. */
  commitToBranch(
    branch: string,
    files: Readonly<Record<string, string | null>>,
    message: string,
    author?: GitAuthor,
  ): Promise<string>;
  /** Commit metadata: parents, message, tree. */
  commitInfo(sha: string): Promise<{ parents: string[]; message: string; tree: string } | null>;
  /** Last commit on `ref` touching `path`. */
  lastCommitFor(ref: string, path: string): Promise<string | null>;
  cleanup(): Promise<void>;
}

const DEFAULT_AUTHOR: GitAuthor = { name: 'Test Colleague', email: 'colleague@example.test' };

const baseEnv = (home: string): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: home,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_TERMINAL_PROMPT: '0',
  LANG: 'C',
});

const authorEnv = (a: GitAuthor): Record<string, string> => ({
  GIT_AUTHOR_NAME: a.name,
  GIT_AUTHOR_EMAIL: a.email,
  GIT_COMMITTER_NAME: a.name,
  GIT_COMMITTER_EMAIL: a.email,
});

const run = (cwd: string, env: Record<string, string>, args: readonly string[], input?: string | Buffer) =>
  new Promise<string>((resolve, reject) => {
    const child = execFile(
      'git',
      [...args],
      { cwd, env, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (err, stdout, stderr) => {
        if (err) {
          const e = new Error(`git ${args.join(' ')} failed: ${stderr.toString().trim()}`, { cause: err });
          reject(e);
          return;
        }
        resolve(stdout.toString('utf8'));
      },
    );
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });

interface RepoOptions {
  readonly defaultBranch?: string;
  readonly author?: GitAuthor;
}

/**
 * Each distinct initial repository (files, branch, author) is built with git once per test process, then
 * copied for every createBareRepo: a copy is a few file copies in this process, where building it again
 * is eight git processes (forking is what costs on the test machine, not git). The copy is byte for byte
 * the same repository (objects, refs, HEAD); only its initial commit's timestamp is shared.
 */
const templates = new Map<string, Promise<string>>();
const templateRoots: string[] = [];
process.once('exit', () => {
  for (const root of templateRoots) rmSync(root, { recursive: true, force: true });
});

const templateFor = (files: Readonly<Record<string, string>>, opts: RepoOptions): Promise<string> => {
  const key = JSON.stringify([opts.defaultBranch ?? 'main', opts.author ?? null, Object.entries(files)]);
  let dir = templates.get(key);
  if (!dir) {
    dir = (async () => {
      const root = await mkdtemp(join(tmpdir(), 'opsbot-git-template-'));
      templateRoots.push(root);
      const repo = openBareRepo(root, opts);
      await run(root, baseEnv(root), [
        'init',
        '--bare',
        '--quiet',
        `--initial-branch=${repo.defaultBranch}`,
        repo.dir,
      ]);
      await repo.commitToBranch(repo.defaultBranch, files, 'Initial commit');
      return repo.dir;
    })();
    dir.catch(() => templates.delete(key));
    templates.set(key, dir);
  }
  return dir;
};

/** Creates a bare repository whose `defaultBranch` holds one commit with `files` (a copy of a template). */
export const createBareRepo = async (
  files: Readonly<Record<string, string>>,
  opts: RepoOptions = {},
): Promise<GitRepo> => {
  const template = await templateFor(files, opts);
  const root = await mkdtemp(join(tmpdir(), 'opsbot-git-'));
  const repo = openBareRepo(root, opts);
  await cp(template, repo.dir, { recursive: true });
  return repo;
};

/** The repository `<root>/repo.git` (which may not exist yet), driven through the git CLI. */
const openBareRepo = (root: string, opts: RepoOptions): GitRepo => {
  const dir = join(root, 'repo.git');
  const defaultBranch = opts.defaultBranch ?? 'main';
  const env = baseEnv(root);

  const git = (args: readonly string[], o: GitRunOptions = {}) =>
    run(dir, { ...env, ...(o.env ?? {}) }, args, o.input);

  /**
   * A full ref name (`refs/heads/x`) read from the repository's files as git stores them (a loose ref file,
   * else a line of packed-refs), without starting git: the fakes ask for branch heads on nearly every request.
   * Undefined when the files cannot tell (not a plain full ref name, a symbolic ref): git answers then.
   */
  const readRefFile = async (ref: string): Promise<string | null | undefined> => {
    if (!/^refs\/[A-Za-z0-9._/-]+$/.test(ref) || ref.includes('..') || ref.endsWith('/')) return undefined;
    try {
      const value = (await readFile(join(dir, ref), 'utf8')).trim();
      return /^[0-9a-f]{40}$/.test(value) ? value : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
    }
    let packed: string;
    try {
      packed = await readFile(join(dir, 'packed-refs'), 'utf8');
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : undefined;
    }
    for (const line of packed.split('\n')) {
      const m = /^([0-9a-f]{40}) (.+)$/.exec(line);
      if (m?.[2] === ref) return m[1] ?? null;
    }
    return null;
  };

  const revParse = async (ref: string) => {
    const fromFile = await readRefFile(ref);
    if (fromFile !== undefined) return fromFile;
    try {
      return (await git(['rev-parse', '--verify', '--quiet', `${ref}^{object}`])).trim() || null;
    } catch {
      return null;
    }
  };

  const blobSha = async (ref: string, path: string) => {
    try {
      const out = (await git(['ls-tree', '-z', ref, '--', path])).split('\0')[0] ?? '';
      const m = /^(\d+) (blob) ([0-9a-f]+)\t/.exec(out);
      return m?.[3] ?? null;
    } catch {
      return null;
    }
  };

  const writeBlob = async (content: string | Buffer) =>
    (await git(['hash-object', '-w', '--stdin'], { input: content })).trim();

  const buildTree = async (base: string | null, edits: readonly TreeEdit[]) => {
    const indexFile = join(root, `index-${randomUUID()}`);
    const ienv = { GIT_INDEX_FILE: indexFile };
    try {
      if (base) await git(['read-tree', base], { env: ienv });
      else await git(['read-tree', '--empty'], { env: ienv });
      // One --index-info batch (works in a bare repo); mode 0 removes the entry.
      const lines = edits.map((e) =>
        e.sha === null ? `0 ${'0'.repeat(40)}\t${e.path}\0` : `${e.mode ?? '100644'} ${e.sha}\t${e.path}\0`,
      );
      if (lines.length)
        await git(['update-index', '-z', '--index-info'], { env: ienv, input: lines.join('') });
      return (await git(['write-tree'], { env: ienv })).trim();
    } finally {
      await rm(indexFile, { force: true });
    }
  };

  const commitTree = async (tree: string, parents: readonly string[], message: string, author?: GitAuthor) =>
    (
      await git(['commit-tree', tree, ...parents.flatMap((p) => ['-p', p])], {
        input: message,
        env: authorEnv(author ?? opts.author ?? DEFAULT_AUTHOR),
      })
    ).trim();

  const updateRef = async (ref: string, sha: string, expectedOld: string | null) => {
    try {
      // An empty old value means the ref must not exist yet: git checks it under the ref lock.
      await git(['update-ref', ref, sha, expectedOld ?? '']);
      return true;
    } catch {
      return false;
    }
  };

  const repo: GitRepo = {
    dir,
    defaultBranch,
    git,
    revParse,
    async listBranches() {
      const out = await git(['for-each-ref', '--format=%(refname:short)', 'refs/heads/']);
      return out
        .split('\n')
        .filter((l) => l !== '')
        .sort();
    },
    async readFile(ref, path) {
      const sha = await blobSha(ref, path);
      if (!sha) return null;
      return git(['cat-file', 'blob', sha]);
    },
    blobSha,
    async readTree(ref) {
      const out = await git(['ls-tree', '-r', '-z', ref]);
      const result: Record<string, string> = {};
      for (const line of out.split('\0')) {
        const m = /^(\d+) blob ([0-9a-f]+)\t(.*)$/s.exec(line);
        if (!m?.[2] || m[3] === undefined) continue;
        result[m[3]] = await git(['cat-file', 'blob', m[2]]);
      }
      return result;
    },
    async listDir(ref, d) {
      const spec = d === '' ? ref : `${ref}:${d}`;
      const out = await git(['ls-tree', '-z', spec]);
      return out
        .split('\0')
        .map((line) => /^(\d+) (blob|tree) ([0-9a-f]+)\t(.*)$/s.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({
          path: d === '' ? (m[4] ?? '') : `${d}/${m[4] ?? ''}`,
          type: m[2] as 'blob' | 'tree',
          sha: m[3] ?? '',
        }));
    },
    writeBlob,
    buildTree,
    commitTree,
    updateRef,
    async commitToBranch(branch, changes, message, author) {
      const ref = `refs/heads/${branch}`;
      const old = await revParse(ref);
      const edits: TreeEdit[] = [];
      for (const [path, content] of Object.entries(changes)) {
        edits.push({ path, sha: content === null ? null : await writeBlob(content) });
      }
      const tree = await buildTree(old, edits);
      const sha = await commitTree(tree, old ? [old] : [], message, author);
      if (!(await updateRef(ref, sha, old))) throw new Error(`branch ${branch} moved during commitToBranch`);
      return sha;
    },
    async commitInfo(sha) {
      try {
        const raw = await git(['cat-file', 'commit', sha]);
        const [header = '', ...rest] = raw.split('\n\n');
        const parents = [...header.matchAll(/^parent ([0-9a-f]+)$/gm)].map((m) => m[1] ?? '');
        const tree = /^tree ([0-9a-f]+)$/m.exec(header)?.[1] ?? '';
        return { parents, message: rest.join('\n\n'), tree };
      } catch {
        return null;
      }
    },
    async lastCommitFor(ref, path) {
      try {
        return (await git(['log', '-1', '--format=%H', ref, '--', path])).trim() || null;
      } catch {
        return null;
      }
    },
    async cleanup() {
      await rm(root, { recursive: true, force: true });
    },
  };
  return repo;
};
