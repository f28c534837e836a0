import type { MergeRequestRef } from '../../integrations/forge/events.js';

/**
 * `/pipeline` and `opsbot pipeline` name an MR as `group/project!42` (GitLab), `owner/repo#42` (GitHub), or
 * by its URL; a URL is matched against the configured forges' hosts.
 */

export interface ForgeHosts {
  /** forges.gitlab.host, when configured (e.g. https://gitlab.example.com, maybe with a path). */
  readonly gitlab: string | null;
  /** The GitHub web origin for forges.github.baseUrl (api.github.com -> github.com; GHES /api/v3 stripped). */
  readonly github: string | null;
}

export type MrRefParse =
  | { readonly ok: true; readonly ref: MergeRequestRef; readonly url: string | null }
  | { readonly ok: false; readonly problem: string };

const REPO = /^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)+$/;

const badRepo = (repo: string) =>
  !REPO.test(repo) || repo.split('/').some((seg) => seg === '.' || seg === '..');

/** The web origin of a GitHub API base URL. */
export const githubWebOf = (apiBase: string): string => {
  const u = new URL(apiBase);
  if (u.hostname === 'api.github.com') return 'https://github.com';
  const path = u.pathname.replace(/\/+$/, '').replace(/\/api\/v3$/, '');
  return `${u.origin}${path}`;
};

const number = (s: string): number | null => (/^[1-9]\d{0,9}$/.test(s) ? Number(s) : null);

export const parseMrRef = (input: string, hosts: ForgeHosts): MrRefParse => {
  const text =
    input
      .trim()
      .replace(/^<(.*)>$/, '$1')
      .split('|')[0]
      ?.trim() ?? ''; // Slack wraps URLs: <url|label>
  const gitlab = /^(.+)!(\d+)$/.exec(text);
  if (gitlab && !text.includes('://')) {
    const [, repo = '', n = ''] = gitlab;
    if (badRepo(repo) || number(n) === null)
      return { ok: false, problem: `"${input}" is not group/project!number` };
    return { ok: true, ref: { forge: 'gitlab', repo, number: number(n) as number }, url: null };
  }
  const github = /^([^/\s]+\/[^/\s#]+)#(\d+)$/.exec(text);
  if (github && !text.includes('://')) {
    const [, repo = '', n = ''] = github;
    if (badRepo(repo) || number(n) === null)
      return { ok: false, problem: `"${input}" is not owner/repo#number` };
    return { ok: true, ref: { forge: 'github', repo, number: number(n) as number }, url: null };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {
      ok: false,
      problem: `"${input}" is not a merge request: use group/project!42, owner/repo#42 or the MR / PR URL`,
    };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    return { ok: false, problem: 'only http(s) URLs' };
  const within = (base: string | null): string | null => {
    if (!base) return null;
    const b = new URL(base);
    if (b.origin !== url.origin) return null;
    const prefix = b.pathname.replace(/\/+$/, '');
    if (prefix && !url.pathname.startsWith(`${prefix}/`)) return null;
    return url.pathname.slice(prefix.length).replace(/^\/+|\/+$/g, '');
  };
  const glPath = within(hosts.gitlab);
  if (glPath !== null) {
    const m = /^(.+?)\/(?:-\/)?merge_requests\/(\d+)(?:\/.*)?$/.exec(glPath);
    if (!m || badRepo(m[1] as string) || number(m[2] as string) === null) {
      return { ok: false, problem: 'that GitLab URL is not a merge request (…/-/merge_requests/42)' };
    }
    const ref = { forge: 'gitlab' as const, repo: m[1] as string, number: Number(m[2]) };
    return { ok: true, ref, url: `${url.origin}${url.pathname.replace(/(\/merge_requests\/\d+).*$/, '$1')}` };
  }
  const ghPath = within(hosts.github);
  if (ghPath !== null) {
    const m = /^([^/]+\/[^/]+)\/pull\/(\d+)(?:\/.*)?$/.exec(ghPath);
    if (!m || badRepo(m[1] as string) || number(m[2] as string) === null) {
      return { ok: false, problem: 'that GitHub URL is not a pull request (…/owner/repo/pull/42)' };
    }
    const ref = { forge: 'github' as const, repo: m[1] as string, number: Number(m[2]) };
    return { ok: true, ref, url: `${url.origin}${url.pathname.replace(/(\/pull\/\d+).*$/, '$1')}` };
  }
  return {
    ok: false,
    problem: `${url.host} is not a forge this opsbot is configured for (forges.gitlab.host / forges.github.baseUrl)`,
  };
};

/** An MR as people write it: group/project!42 on GitLab, owner/repo#42 on GitHub (the inverse of parseMrRef). */
export const formatMrRef = (mr: Pick<MergeRequestRef, 'forge' | 'repo' | 'number'>): string =>
  mr.forge === 'gitlab' ? `${mr.repo}!${mr.number}` : `${mr.repo}#${mr.number}`;
