import { execFileSync, spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, delimiter, dirname, join } from 'node:path';
import type { GitRepo } from './git-repo.js';

/**
 * Git's smart HTTP protocol for the forge fakes: git's own `git http-backend` CGI behind the fake's node
 * http server, over the fakes' bare repositories. Clients authenticate with HTTP basic auth (any user name,
 * a token the fake knows as the password), as GitLab (`oauth2:<token>`) and GitHub (`x-access-token:<token>`)
 * expect; pushes need write access. After a push that moved refs, `onPush` tells the forge fake, which moves
 * its MRs' heads and sends the hooks the real forge would.
 */

/** null when the password is not a token; else whether it may push. */
export type GitHttpAccess = (password: string, repo: string) => { readonly write: boolean } | null;

export interface RefUpdate {
  readonly ref: string;
  readonly oldSha: string | null;
  readonly newSha: string | null;
}

export interface GitHttpRoute {
  /** `/owner/repo.git/...` -> the repo name and the rest of the path, or null for another path. */
  readonly repos: Readonly<Record<string, GitRepo>>;
  readonly access: GitHttpAccess;
  readonly onPush?: (repo: string, updates: readonly RefUpdate[]) => void | Promise<void>;
  /** Basic-auth passwords seen (tests check what reached the server). */
  readonly seenPasswords?: string[];
  /** Run (and removed) one per push, after the client sent its pack and before git receives it: a race. */
  readonly beforePush?: Array<() => Promise<void>>;
  /**
   * Run (and removed) one per push, when it starts (the receive-pack ref advertisement), before the client has
   * seen the branch: someone else's push landing after the pusher read the branch and before it pushed.
   */
  readonly beforePushStarts?: Array<() => Promise<void>>;
}

const unauthorized = (res: ServerResponse) => {
  res.writeHead(401, { 'www-authenticate': 'Basic realm="fake forge"', 'content-type': 'text/plain' });
  res.end('HTTP Basic: Access denied\n');
};

let gitExecPath: string | null = null;
/**
 * The directory of git's own programs (`git --exec-path`), asked once per process. The fake starts
 * `git-http-backend` from there itself: `git http-backend` is one more process per request (the `git` wrapper
 * only finds that program and execs it), and a test run makes hundreds of requests.
 */
const execPath = (): string => {
  gitExecPath ??= execFileSync('git', ['--exec-path'], { encoding: 'utf8' }).trim();
  return gitExecPath;
};

const refsOf = async (repo: GitRepo): Promise<Map<string, string>> => {
  const out = await repo.git(['for-each-ref', '--format=%(refname) %(objectname)']);
  return new Map(
    out
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split(' ') as [string, string]),
  );
};

/**
 * Serves the request when its path is `/<repo>.git/(info/refs|git-upload-pack|git-receive-pack)` for a known
 * repo; returns false for any other path (the caller answers it).
 */
export const serveGitHttp = async (
  req: IncomingMessage,
  res: ServerResponse,
  route: GitHttpRoute,
): Promise<boolean> => {
  const url = new URL(req.url ?? '/', 'http://fake');
  const m = /^\/(.+?)\.git(\/info\/refs|\/git-upload-pack|\/git-receive-pack)$/.exec(url.pathname);
  if (!m) return false;
  const name = decodeURIComponent(m[1] ?? '');
  const repo = route.repos[name];
  if (!repo) return false;
  const service = m[2] === '/info/refs' ? url.searchParams.get('service') : (m[2] ?? '').slice(1);
  const pushing = service === 'git-receive-pack';

  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const decoded = basic ? Buffer.from(basic, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  const password = colon >= 0 ? decoded.slice(colon + 1) : '';
  route.seenPasswords?.push(password);
  const grant = password ? route.access(password, name) : null;
  if (!grant) {
    // Drain the body before answering, as a server does.
    for await (const _ of req) {
      /* discard */
    }
    unauthorized(res);
    return true;
  }
  if (pushing && !grant.write) {
    for await (const _ of req) {
      /* discard */
    }
    res.writeHead(403, { 'content-type': 'text/plain' });
    res.end('You are not allowed to push code to this project.\n');
    return true;
  }

  if (pushing && m[2] === '/info/refs') await route.beforePushStarts?.shift()?.();
  const receiving = pushing && m[2] === '/git-receive-pack';
  if (receiving) await route.beforePush?.shift()?.();
  const before = receiving ? await refsOf(repo) : null;
  const env: Record<string, string> = {
    // As the `git` wrapper would run it: git's programs first on PATH (http-backend starts upload-pack).
    PATH: `${execPath()}${delimiter}${process.env.PATH ?? '/usr/bin:/bin'}`,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROJECT_ROOT: dirname(repo.dir),
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: `/${basename(repo.dir)}${m[2]}`,
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: url.search.replace(/^\?/, ''),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_USER: 'fake-user', // enables receive-pack, as an authenticated user would
    REMOTE_ADDR: '127.0.0.1',
    // Pushing from a shallow clone is allowed by GitLab and GitHub.
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'receive.shallowUpdate',
    GIT_CONFIG_VALUE_0: 'true',
    // No `git gc --auto` process after each push: a fake's repository lives for one test.
    GIT_CONFIG_KEY_1: 'receive.autogc',
    GIT_CONFIG_VALUE_1: 'false',
  };
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);

  const child = spawn(join(execPath(), 'git-http-backend'), [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  req.pipe(child.stdin);
  const out: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  const errs: Buffer[] = [];
  child.stderr.on('data', (c: Buffer) => errs.push(c));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  const raw = Buffer.concat(out);
  const split = raw.indexOf('\r\n\r\n');
  if (code !== 0 && split < 0) {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(Buffer.concat(errs));
    return true;
  }
  const head = raw.subarray(0, split).toString('latin1');
  const body = raw.subarray(split + 4);
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k.toLowerCase() === 'status') status = Number.parseInt(v, 10) || 200;
    else headers[k] = v;
  }
  res.writeHead(status, headers);
  res.end(body);

  if (before) {
    const after = await refsOf(repo);
    const updates: RefUpdate[] = [];
    for (const ref of new Set([...before.keys(), ...after.keys()])) {
      const o = before.get(ref) ?? null;
      const n = after.get(ref) ?? null;
      if (o !== n) updates.push({ ref, oldSha: o, newSha: n });
    }
    if (updates.length > 0) await route.onPush?.(name, updates);
  }
  return true;
};
