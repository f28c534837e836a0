import { AppError } from '../../core/errors.js';
import type { Secrets } from '../../core/secrets.js';
import { createGithubForge } from '../github/adapter.js';
import { createGitlabForge } from '../gitlab/adapter.js';
import type { ForgeKind, ForgePort } from './port.js';

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
 * GITHUB_APP_PRIVATE_KEY is set, else GITHUB_TOKEN.
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
    return createGitlabForge({ host: settings.gitlab.host, token, ...common });
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
      return createGithubForge({
        baseUrl: gh.baseUrl,
        app: { appId: gh.appId, installationId: gh.installationId, privateKey: key },
        ...common,
        ...(deps.warn ? { warn: deps.warn } : {}),
      });
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
  return createGithubForge({
    baseUrl: gh.baseUrl,
    token,
    ...common,
    ...(deps.warn ? { warn: deps.warn } : {}),
  });
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
