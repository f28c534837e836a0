import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
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

export interface GitObject {
  readonly sha: string;
  readonly type: 'blob' | 'tree' | 'commit' | 'tag';
  readonly content: Buffer;
}

export interface GitRepo {
  /** Path of the bare repository. */
  readonly dir: string;
  readonly defaultBranch: string;
  git(args: readonly string[], opts?: GitRunOptions): Promise<string>;
  /** The object a name (`sha`, `ref^{commit}`, `ref:path`...) resolves to, as `git cat-file` reads it; or null. */
  readObject(name: string): Promise<GitObject | null>;
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

/**
 * One `git cat-file --batch` process per repository answers the fakes' reads (a ref's commit, a file at a
 * commit, a commit's parents), which they make on nearly every request: a process per read was most of the
 * processes a forge test started. It reads the repository as it is at each request (refs and objects another
 * process wrote in between included). Names git cannot take on one line go to a `git cat-file` of their own.
 */
const catFileBatch = (dir: string, env: Record<string, string>) => {
  let child: ChildProcessWithoutNullStreams | null = null;
  let buffered: Buffer = Buffer.alloc(0);
  const waiting: Array<{ resolve: (o: GitObject | null) => void; reject: (e: Error) => void }> = [];

  const fail = (err: Error) => {
    child = null;
    buffered = Buffer.alloc(0);
    for (const w of waiting.splice(0)) w.reject(err);
  };
  /** Answers, in order, every request whose whole answer has arrived. */
  const drain = () => {
    for (;;) {
      const nl = buffered.indexOf(10);
      if (nl < 0 || waiting.length === 0) return;
      const header = buffered.subarray(0, nl).toString('utf8');
      const m = /^([0-9a-f]{40}) (blob|tree|commit|tag) (\d+)$/.exec(header);
      if (!m) {
        // `<name> missing` or `<name> ambiguous`.
        buffered = buffered.subarray(nl + 1);
        waiting.shift()?.resolve(null);
        continue;
      }
      const size = Number(m[3]);
      if (buffered.length < nl + 1 + size + 1) return;
      const content = Buffer.from(buffered.subarray(nl + 1, nl + 1 + size));
      buffered = buffered.subarray(nl + 1 + size + 1);
      waiting.shift()?.resolve({ sha: m[1] ?? '', type: m[2] as GitObject['type'], content });
    }
  };
  const start = (): ChildProcessWithoutNullStreams => {
    const c = spawn('git', ['cat-file', '--batch'], { cwd: dir, env, stdio: ['pipe', 'pipe', 'pipe'] });
    c.stdout.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      drain();
    });
    c.stderr.resume();
    c.on('error', (err) => fail(err));
    c.on('close', (code) => {
      if (child === c) fail(new Error(`git cat-file --batch exited ${code}`));
    });
    c.stdin.on('error', () => undefined); // EPIPE after an exit: the close handler reports it
    // Never what keeps a test process alive: it ends when its stdin closes, at cleanup or at exit.
    c.unref();
    (c.stdout as unknown as { unref(): void }).unref();
    (c.stderr as unknown as { unref(): void }).unref();
    (c.stdin as unknown as { unref(): void }).unref();
    return c;
  };
  return {
    read(name: string): Promise<GitObject | null> {
      child ??= start();
      const c = child;
      return new Promise((resolve, reject) => {
        waiting.push({ resolve, reject });
        c.stdin.write(`${name}\n`);
      });
    },
    close() {
      const c = child;
      child = null;
      c?.stdin.end();
    },
  };
};

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

  const batch = catFileBatch(dir, env);
  const readObject = async (name: string): Promise<GitObject | null> => {
    if (name === '' || /[\n\r]/.test(name)) {
      // Not one batch line: git cat-file itself (which refuses what it cannot name).
      try {
        const type = (await git(['cat-file', '-t', name])).trim() as GitObject['type'];
        const sha = (await git(['rev-parse', '--verify', '--quiet', name])).trim();
        return { sha, type, content: Buffer.from(await git(['cat-file', type, sha]), 'utf8') };
      } catch {
        return null;
      }
    }
    return batch.read(name);
  };

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
    return (await readObject(ref))?.sha ?? null;
  };

  /** The blob at `path` in the tree of `ref` (null for a directory or nothing). */
  const blobAt = async (ref: string, path: string) => {
    const o = await readObject(`${ref}:${path}`);
    return o?.type === 'blob' ? o : null;
  };
  const blobSha = async (ref: string, path: string) => (await blobAt(ref, path))?.sha ?? null;

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
    readObject,
    async readFile(ref, path) {
      return (await blobAt(ref, path))?.content.toString('utf8') ?? null;
    },
    blobSha,
    async readTree(ref) {
      const out = await git(['ls-tree', '-r', '-z', ref]);
      const result: Record<string, string> = {};
      for (const line of out.split('\0')) {
        const m = /^(\d+) blob ([0-9a-f]+)\t(.*)$/s.exec(line);
        if (!m?.[2] || m[3] === undefined) continue;
        const blob = await readObject(m[2]);
        if (!blob) throw new Error(`git cat-file: blob ${m[2]} of ${ref} is missing`);
        result[m[3]] = blob.content.toString('utf8');
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
    /**
     * Two git processes whatever the number of files (blobs, tree and commit by one `git fast-import` onto a
     * scratch ref, then one `git update-ref --stdin` transaction that moves the branch from `old`, compare and
     * swap, and deletes the scratch ref), where a blob, a tree and a commit each took processes of their own.
     */
    async commitToBranch(branch, changes, message, author) {
      const ref = `refs/heads/${branch}`;
      const old = await revParse(ref);
      const who = author ?? opts.author ?? DEFAULT_AUTHOR;
      const when = `${Math.floor(Date.now() / 1000)} +0000`;
      const data = (content: string) => `data ${Buffer.byteLength(content)}\n${content}\n`;
      const scratch = `refs/fake-scratch/${randomUUID()}`;
      const stream = [
        `commit ${scratch}\n`,
        `author ${who.name} <${who.email}> ${when}\n`,
        `committer ${who.name} <${who.email}> ${when}\n`,
        data(message),
        old ? `from ${old}\n` : '',
        ...Object.entries(changes).map(([path, content]) =>
          content === null ? `D ${path}\n` : `M 100644 inline ${path}\n${data(content)}`,
        ),
        '\ndone\n',
      ].join('');
      await git(['fast-import', '--quiet', '--done'], { input: stream });
      const sha = await revParse(scratch);
      if (!sha) throw new Error(`git fast-import left no commit on ${scratch}`);
      try {
        await git(['update-ref', '--stdin'], {
          input: `update ${ref} ${sha} ${old ?? '0'.repeat(40)}\ndelete ${scratch} ${sha}\n`,
        });
      } catch {
        await git(['update-ref', '-d', scratch]);
        throw new Error(`branch ${branch} moved during commitToBranch`);
      }
      return sha;
    },
    async commitInfo(sha) {
      const commit = await readObject(`${sha}^{commit}`);
      if (!commit) return null;
      const [header = '', ...rest] = commit.content.toString('utf8').split('\n\n');
      const parents = [...header.matchAll(/^parent ([0-9a-f]+)$/gm)].map((m) => m[1] ?? '');
      const tree = /^tree ([0-9a-f]+)$/m.exec(header)?.[1] ?? '';
      return { parents, message: rest.join('\n\n'), tree };
    },
    async lastCommitFor(ref, path) {
      try {
        return (await git(['log', '-1', '--format=%H', ref, '--', path])).trim() || null;
      } catch {
        return null;
      }
    },
    async cleanup() {
      batch.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return repo;
};
