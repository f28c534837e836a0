import { createBareRepo, type GitRepo } from '../fakes/git-repo.js';
import { type FakeGithub, startFakeGithub } from '../fakes/github.js';
import { type FakeGitlab, startFakeGitlab } from '../fakes/gitlab.js';
import { BOT_TOKEN, SIGNING_SECRET } from './helpers.js';

/**
 * Pieces of the config and environment of an `opsbot serve` under test (in process or a child process) that
 * many e2e suites share: the store and forges sections, the pipelines section, the Slack environment, and the
 * fake forges with one repository and a write token. Each suite adds what is its own (targets, access, ...).
 */

/** SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_API_URL for the fake Slack, then `extra`. */
export const slackServeEnv = (
  slack: { readonly apiUrl: string },
  extra: Readonly<Record<string, string>> = {},
): Record<string, string> => ({
  SLACK_BOT_TOKEN: BOT_TOKEN,
  SLACK_SIGNING_SECRET: SIGNING_SECRET,
  SLACK_API_URL: slack.apiUrl,
  ...extra,
});

/** The `store:` section (data under `<dir>/data`) and the `forges:` section for the fakes given. */
export const storeAndForgesYaml = (
  dir: string,
  forges: { readonly gitlab?: { readonly host: string }; readonly github?: { readonly baseUrl: string } },
): string =>
  [
    '',
    'store:',
    `  dataDir: ${dir}/data`,
    'forges:',
    ...(forges.gitlab ? ['  gitlab:', `    host: ${forges.gitlab.host}`] : []),
    ...(forges.github ? ['  github:', `    baseUrl: ${forges.github.baseUrl}`] : []),
    '',
  ].join('\n');

export interface PipelinesYaml {
  /** `never` (webhooks only) or `auto` polling with these periods. */
  readonly polling: 'never' | { readonly intervalMs: number; readonly maxIntervalMs: number };
  /** How a followed pipeline's thread is updated. */
  readonly slack?: {
    readonly coalesceMs: number;
    readonly minUpdateIntervalMs: number;
    readonly resultDelayMs: number;
  };
  readonly webhooks?: { readonly maxBodyBytes?: number; readonly bodyTimeoutMs?: number };
}

/** The `pipelines:` section. */
export const pipelinesYaml = (p: PipelinesYaml): string => {
  const hooks = p.webhooks ?? {};
  const hookLines = [
    ...(hooks.maxBodyBytes !== undefined ? [`    maxBodyBytes: ${hooks.maxBodyBytes}`] : []),
    ...(hooks.bodyTimeoutMs !== undefined ? [`    bodyTimeoutMs: ${hooks.bodyTimeoutMs}`] : []),
  ];
  return [
    'pipelines:',
    ...(hookLines.length > 0 ? ['  webhooks:', ...hookLines] : []),
    '  polling:',
    ...(p.polling === 'never'
      ? ['    mode: never']
      : [
          '    mode: auto',
          `    intervalMs: ${p.polling.intervalMs}`,
          `    maxIntervalMs: ${p.polling.maxIntervalMs}`,
        ]),
    ...(p.slack
      ? [
          '  slack:',
          `    coalesceMs: ${p.slack.coalesceMs}`,
          `    minUpdateIntervalMs: ${p.slack.minUpdateIntervalMs}`,
          `    resultDelayMs: ${p.slack.resultDelayMs}`,
        ]
      : []),
    '',
  ].join('\n');
};

/** A fake GitLab serving `repo` as `project`, where `token` may write. */
export const startGitlabWithRepo = (project: string, repo: GitRepo, token: string): Promise<FakeGitlab> =>
  startFakeGitlab({ projects: { [project]: repo }, tokens: { [token]: { access: 'write' } } });

/** A fake GitHub serving `repo` as `name`, where `token` may write (as `login`, if given). */
export const startGithubWithRepo = (
  name: string,
  repo: GitRepo,
  token: string,
  login?: string,
): Promise<FakeGithub> =>
  startFakeGithub({
    repos: { [name]: repo },
    tokens: { [token]: { access: 'write', ...(login ? { login } : {}) } },
  });

export interface AppForges {
  readonly glRepo: GitRepo;
  readonly ghRepo: GitRepo;
  readonly gitlab: FakeGitlab;
  readonly github: FakeGithub;
}

/** GitLab's ops/app and GitHub's acme/web, each a repository holding `a.txt`, where the tokens may write. */
export const startAppForges = async (glToken: string, ghToken: string): Promise<AppForges> => {
  const glRepo = await createBareRepo({ 'a.txt': 'a\n' });
  const ghRepo = await createBareRepo({ 'a.txt': 'a\n' });
  const gitlab = await startGitlabWithRepo('ops/app', glRepo, glToken);
  const github = await startGithubWithRepo('acme/web', ghRepo, ghToken);
  return { glRepo, ghRepo, gitlab, github };
};
