import { AppError } from '../../core/errors.js';
import { onceUntilRejected } from '../../core/once.js';
import type { Secrets } from '../../core/secrets.js';
import type * as GithubAdapter from '../github/adapter.js';
import type { GithubForgeOptions } from '../github/adapter.js';
import type * as GitlabAdapter from '../gitlab/adapter.js';
import type { GitlabForgeOptions } from '../gitlab/adapter.js';
import type { ForgeKind, ForgePort } from './port.js';

/**
 * Each adapter module (and its SDK: gitbeaker ~140 modules, octokit ~70) is loaded on the first call of a
 * forge of its kind, or ahead of it by `warmForges`, never just because opsbot starts: a config without
 * GitHub never loads octokit. One load per process, shared by every forge of the kind.
 */
const adapterModules: {
  gitlab?: Promise<typeof GitlabAdapter>;
  github?: Promise<typeof GithubAdapter>;
} = {};
const loadGitlab = () => {
  adapterModules.gitlab ??= import('../gitlab/adapter.js');
  return adapterModules.gitlab;
};
const loadGithub = () => {
  adapterModules.github ??= import('../github/adapter.js');
  return adapterModules.github;
};

/**
 * Loads the adapter modules of the configured forges (resolves once they are in; never rejects: a module
 * that cannot load fails again, with its error, on the first call that needs it). For a server that must
 * not pay the load on its first command.
 */
export const warmForges = async (settings: Pick<ForgeSettings, 'gitlab' | 'github'>): Promise<void> => {
  await Promise.all([
    settings.gitlab ? loadGitlab().catch(() => undefined) : undefined,
    settings.github ? loadGithub().catch(() => undefined) : undefined,
  ]);
};

/**
 * A forge whose adapter is built on its first call (every call is async): `build` runs once, after its
 * module is in; a build that fails fails that call and is tried again on the next one.
 */
const lazyForge = (kind: ForgeKind, build: () => Promise<ForgePort>): ForgePort => {
  const forge = onceUntilRejected(build);
  return {
    kind,
    getBranchHead: async (...a) => (await forge()).getBranchHead(...a),
    getFile: async (...a) => (await forge()).getFile(...a),
    createBranchWithCommit: async (...a) => (await forge()).createBranchWithCommit(...a),
    findOpenMergeRequest: async (...a) => (await forge()).findOpenMergeRequest(...a),
    openMergeRequest: async (...a) => (await forge()).openMergeRequest(...a),
    comment: async (...a) => (await forge()).comment(...a),
    listComments: async (...a) => (await forge()).listComments(...a),
    getMergeRequest: async (...a) => (await forge()).getMergeRequest(...a),
    listMergeRequestPipelines: async (...a) => (await forge()).listMergeRequestPipelines(...a),
    listPipelineJobs: async (...a) => (await forge()).listPipelineJobs(...a),
    getJobLogTail: async (...a) => (await forge()).getJobLogTail(...a),
    retryFailedJobs: async (...a) => (await forge()).retryFailedJobs(...a),
    getMergeRequestSource: async (...a) => (await forge()).getMergeRequestSource(...a),
    getGitCredential: async () => (await forge()).getGitCredential(),
  };
};

/** The `forges` section of the config (see core/config.ts), as far as the adapters need it. */
export interface ForgeSettings {
  readonly gitlab?: { readonly host: string } | undefined;
  readonly github?:
    | {
        readonly baseUrl: string;
        readonly appId?: number | undefined;
        readonly installationId?: number | undefined;
      }
    | undefined;
  readonly timeoutMs: number;
}

export interface ForgeDeps {
  readonly fetch?: typeof fetch;
  readonly maxRetries?: number;
  /** Where octokit's own warnings go. */
  readonly warn?: (message: string) => void;
}

/**
 * Builds the adapter for one forge from config + secrets; fails with an actionable config error when the
 * forge is used but not configured. GitHub uses the App when `appId` + `installationId` are configured and
 * GITHUB_APP_PRIVATE_KEY is set, else GITHUB_TOKEN. The checks run here, at once; the adapter's module is
 * loaded on the forge's first call (see `warmForges`).
 */
export const createForge = (
  kind: ForgeKind,
  settings: ForgeSettings,
  secrets: Secrets,
  deps: ForgeDeps = {},
): ForgePort => {
  const common = {
    timeoutMs: settings.timeoutMs,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.maxRetries !== undefined ? { maxRetries: deps.maxRetries } : {}),
  };
  if (kind === 'gitlab') {
    if (!settings.gitlab) throw new AppError('config_invalid', 'forges.gitlab is not configured');
    const token = secrets.GITLAB_TOKEN;
    if (!token) throw new AppError('config_invalid', 'GITLAB_TOKEN is not set: GitLab targets need it');
    const opts: GitlabForgeOptions = { host: settings.gitlab.host, token, ...common };
    return lazyForge(kind, async () => (await loadGitlab()).createGitlabForge(opts));
  }
  const gh = settings.github;
  if (!gh) throw new AppError('config_invalid', 'forges.github is not configured');
  const key = secrets.GITHUB_APP_PRIVATE_KEY;
  if (gh.appId !== undefined || gh.installationId !== undefined) {
    if (gh.appId === undefined || gh.installationId === undefined) {
      throw new AppError(
        'config_invalid',
        'forges.github: set both appId and installationId to use a GitHub App (or neither to use GITHUB_TOKEN)',
      );
    }
    if (key) {
      const opts: GithubForgeOptions = {
        baseUrl: gh.baseUrl,
        app: { appId: gh.appId, installationId: gh.installationId, privateKey: key },
        ...common,
        ...(deps.warn ? { warn: deps.warn } : {}),
      };
      return lazyForge(kind, async () => (await loadGithub()).createGithubForge(opts));
    }
  }
  const token = secrets.GITHUB_TOKEN;
  if (!token) {
    throw new AppError(
      'config_invalid',
      gh.appId !== undefined
        ? 'GITHUB_APP_PRIVATE_KEY is not set: forges.github names a GitHub App'
        : 'GITHUB_TOKEN is not set: GitHub targets need it (or configure a GitHub App)',
    );
  }
  const opts: GithubForgeOptions = {
    baseUrl: gh.baseUrl,
    token,
    ...common,
    ...(deps.warn ? { warn: deps.warn } : {}),
  };
  return lazyForge(kind, async () => (await loadGithub()).createGithubForge(opts));
};

/**
 * The forges as they are asked for: each kind is built (and cached) the first time a change needs it, so a
 * configured forge whose credential is missing fails only the commands that use it, never the others.
 */
export const createForgeCache = (
  settings: ForgeSettings,
  secrets: Secrets,
  deps: ForgeDeps = {},
): ((kind: ForgeKind) => ForgePort) => {
  const built: Partial<Record<ForgeKind, ForgePort>> = {};
  return (kind) => {
    built[kind] ??= createForge(kind, settings, secrets, deps);
    return built[kind];
  };
};
