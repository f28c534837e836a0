import { type AppErrorCode, IntegrationError } from '../../core/errors.js';

/**
 * Shared error mapping for the GitLab and GitHub adapters: whatever the SDK or fetch threw becomes an
 * IntegrationError whose message tells the user what to do ("the GitLab token lacks write access to
 * infra/ansible"), never a stack, never a token.
 */

export type ForgeService = 'gitlab' | 'github';

export const forgeName = (s: ForgeService): string => (s === 'gitlab' ? 'GitLab' : 'GitHub');

/** A non-2xx answer from a forge, thrown by our own GitLab requester. */
export class ForgeHttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly forgeMessage: string;
  constructor(status: number, headers: Readonly<Record<string, string>>, forgeMessage: string) {
    super(`HTTP ${status}: ${forgeMessage}`);
    this.name = 'ForgeHttpError';
    this.status = status;
    this.headers = headers;
    this.forgeMessage = forgeMessage;
  }
}

/** Thrown by the timed fetch when the per-attempt deadline passed (not when the caller aborted). */
export class ForgeTimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'ForgeTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

export interface Failure {
  readonly kind: 'http' | 'timeout' | 'network' | 'other';
  readonly status: number | null;
  readonly headers: Readonly<Record<string, string>>;
  readonly forgeMessage: string;
}

const causes = (err: unknown): unknown[] => {
  const out: unknown[] = [];
  let cur: unknown = err;
  for (let i = 0; i < 6 && cur !== undefined && cur !== null; i++) {
    out.push(cur);
    cur = (cur as { cause?: unknown }).cause;
  }
  return out;
};

const nameOf = (e: unknown): string =>
  typeof e === 'object' && e !== null && 'name' in e ? String((e as { name: unknown }).name) : '';

/** Text of a forge's error body: GitLab `message` (string, array or object) or `error`; GitHub `message` + `errors`. */
export const messageFromBody = (data: unknown): string => {
  if (typeof data === 'string') return data.slice(0, 500);
  if (typeof data !== 'object' || data === null) return '';
  const d = data as { message?: unknown; error?: unknown; errors?: unknown };
  const m = d.message ?? d.error;
  let text = '';
  if (typeof m === 'string') text = m;
  else if (Array.isArray(m)) text = m.map(String).join('; ');
  else if (m && typeof m === 'object')
    text = Object.entries(m)
      .map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(', ') : String(v)}`)
      .join('; ');
  if (Array.isArray(d.errors)) {
    const extra = d.errors
      .map((e) =>
        typeof e === 'object' && e !== null && 'message' in e
          ? String((e as { message: unknown }).message)
          : '',
      )
      .filter((s) => s !== '');
    if (extra.length) text = text ? `${text}: ${extra.join('; ')}` : extra.join('; ');
  }
  return text;
};

/** Normalises anything an adapter call can throw. */
export const describeFailure = (err: unknown): Failure => {
  const chain = causes(err);
  if (chain.some((e) => e instanceof ForgeTimeoutError || nameOf(e) === 'TimeoutError')) {
    return { kind: 'timeout', status: null, headers: {}, forgeMessage: '' };
  }
  if (err instanceof ForgeHttpError) {
    return { kind: 'http', status: err.status, headers: err.headers, forgeMessage: err.forgeMessage };
  }
  // octokit RequestError: status + response (absent when fetch itself failed).
  const o = err as { status?: unknown; response?: { status?: number; headers?: unknown; data?: unknown } };
  if (o && typeof o === 'object' && typeof o.status === 'number') {
    if (o.response && typeof o.response === 'object') {
      return {
        kind: 'http',
        status: o.status,
        headers: (o.response.headers ?? {}) as Record<string, string>,
        forgeMessage: messageFromBody(o.response.data),
      };
    }
    const net = chain.find((e) => e instanceof Error && e !== err) as Error | undefined;
    return { kind: 'network', status: null, headers: {}, forgeMessage: networkReason(net ?? err) };
  }
  if (chain.some((e) => nameOf(e) === 'TypeError' || /ECONN|ENOTFOUND|EAI_AGAIN|socket/i.test(String(e)))) {
    return { kind: 'network', status: null, headers: {}, forgeMessage: networkReason(err) };
  }
  return { kind: 'other', status: null, headers: {}, forgeMessage: err instanceof Error ? err.message : '' };
};

const networkReason = (err: unknown): string => {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
  }
  const last = causes(err).at(-1);
  return last instanceof Error ? last.message : 'network error';
};

const header = (h: Readonly<Record<string, string>>, name: string): string | undefined => {
  const k = Object.keys(h).find((x) => x.toLowerCase() === name);
  return k === undefined ? undefined : h[k];
};

/** True when the forge refused the request for rate limiting (so it was not processed). */
export const isRateLimited = (f: Failure): boolean =>
  f.kind === 'http' &&
  (f.status === 429 ||
    (f.status === 403 &&
      (header(f.headers, 'retry-after') !== undefined ||
        header(f.headers, 'x-ratelimit-remaining') === '0' ||
        /rate limit/i.test(f.forgeMessage))));

/** When the forge says to come back, in ms from `now`; null when it does not say. */
export const retryAfterMs = (f: Failure, now: number): number | null => {
  const ra = header(f.headers, 'retry-after')?.trim();
  if (ra) {
    // RFC 9110: delay-seconds (digits only) or an HTTP-date; anything else is ignored, not read as "now".
    if (/^\d+$/.test(ra)) return Number(ra) * 1000;
    const at = Date.parse(ra);
    if (Number.isFinite(at)) return Math.max(0, at - now);
  }
  const remaining = header(f.headers, 'x-ratelimit-remaining') ?? header(f.headers, 'ratelimit-remaining');
  const reset = header(f.headers, 'x-ratelimit-reset') ?? header(f.headers, 'ratelimit-reset');
  if (reset !== undefined && (remaining === '0' || f.status === 429)) {
    const epoch = Number(reset);
    if (Number.isFinite(epoch)) return Math.max(0, epoch * 1000 - now);
  }
  return null;
};

/** Failures after which a write may or may not have landed (re-check before repeating it). */
export const isAmbiguous = (f: Failure): boolean =>
  f.kind === 'timeout' || f.kind === 'network' || (f.kind === 'http' && (f.status ?? 0) >= 500);

export interface ForgeErrorContext {
  readonly service: ForgeService;
  readonly repo: string;
  readonly access: 'read' | 'write';
  /** What was being touched when it is not the repository itself, e.g. "branch main", "merge request !4". */
  readonly subject?: string;
  /** How the credential is configured, for a 401 ("GITLAB_TOKEN"). */
  readonly credential: string;
  readonly timeoutMs: number;
  /** Values to scrub from any forge-provided text. */
  readonly secrets: readonly string[];
  readonly now?: number;
}

const scrub = (text: string, secrets: readonly string[]): string => {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('[redacted]');
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strip control characters from forge text
  return out.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 300);
};

/** Maps any failure to an IntegrationError with a message a user can act on. */
export const toForgeError = (err: unknown, ctx: ForgeErrorContext): IntegrationError => {
  if (err instanceof IntegrationError) return err;
  const f = describeFailure(err);
  const svc = forgeName(ctx.service);
  const said = f.forgeMessage ? ` (${svc} said: "${scrub(f.forgeMessage, ctx.secrets)}")` : '';
  const details = {
    repo: ctx.repo,
    status: f.status,
    ...(f.forgeMessage ? { forgeMessage: scrub(f.forgeMessage, ctx.secrets) } : {}),
  };
  const make = (
    code: AppErrorCode,
    message: string,
    retryable: boolean,
    extra: Record<string, unknown> = {},
  ) =>
    new IntegrationError(ctx.service, message, {
      code,
      retryable,
      status: f.status,
      cause: err,
      details: { ...details, ...extra },
    });

  if (f.kind === 'timeout') {
    return make(
      'timeout',
      `${svc} did not answer within ${Math.round(ctx.timeoutMs / 100) / 10} s while working on ${ctx.repo}; try again`,
      true,
    );
  }
  if (f.kind === 'network') {
    return make(
      'upstream',
      `cannot reach ${svc} (${scrub(f.forgeMessage, ctx.secrets)}); check the ${svc} URL in the config and the network, then try again`,
      true,
    );
  }
  if (f.kind === 'other') {
    return make('internal', `unexpected failure talking to ${svc} about ${ctx.repo}`, false);
  }
  const status = f.status ?? 0;
  if (isRateLimited(f)) {
    const ms = retryAfterMs(f, ctx.now ?? Date.now());
    const secs = ms === null ? null : Math.max(1, Math.ceil(ms / 1000));
    return make(
      'upstream',
      `${svc} is rate limiting opsbot${secs === null ? '; try again in a minute' : `; retry after ${secs} s`}`,
      true,
      { retryAfterSeconds: secs },
    );
  }
  if (status === 401) {
    return make(
      'forbidden',
      `the ${svc} token is invalid or expired: renew ${ctx.credential} and restart opsbot`,
      false,
    );
  }
  if (status === 403) {
    return make(
      'forbidden',
      ctx.access === 'write'
        ? `the ${svc} token lacks write access to ${ctx.repo}${said}`
        : `the ${svc} token cannot read ${ctx.repo}${said}`,
      false,
    );
  }
  if (status === 404) {
    return make(
      'not_found',
      ctx.subject
        ? `${ctx.subject} not found in ${ctx.repo} on ${svc}`
        : `repository ${ctx.repo} not found on ${svc} (or the token cannot see it)`,
      false,
    );
  }
  if (status === 409 || status === 422) {
    return make('conflict', `${svc} refused the change to ${ctx.repo}${said}`, false);
  }
  if (status === 400) {
    return make('bad_input', `${svc} rejected the request for ${ctx.repo}${said}`, false);
  }
  if (status >= 500) {
    return make('upstream', `${svc} is failing (status ${status}); try again`, true);
  }
  return make('upstream', `${svc} answered ${status} for ${ctx.repo}${said}`, false);
};

/**
 * Why a write conflicted, in `details.conflict` of a `conflict` IntegrationError: the branch to create exists
 * already (an earlier attempt of ours, or someone else's), or the files are not as the plan says at its start
 * commit (an update or delete of a file that is not there, a create of one that is).
 */
export type ForgeConflict = 'branch-exists' | 'file-state';

export const forgeConflictOf = (err: unknown): ForgeConflict | null => {
  if (!(err instanceof IntegrationError) || err.code !== 'conflict') return null;
  const c = err.details.conflict;
  return c === 'branch-exists' || c === 'file-state' ? c : null;
};

export const branchExistsError = (
  service: ForgeService,
  repo: string,
  branch: string,
  status: number,
  cause?: unknown,
): IntegrationError =>
  new IntegrationError(service, `branch ${branch} already exists in ${repo}`, {
    code: 'conflict',
    status,
    details: { conflict: 'branch-exists', repo, branch },
    ...(cause !== undefined ? { cause } : {}),
  });

/** The planned files are not as the plan says at `startSha`: which ones, and what the forge found. */
export const fileStateError = (
  service: ForgeService,
  input: { readonly repo: string; readonly startSha: string },
  problems: readonly { readonly path: string; readonly exists: boolean }[],
  status: number | null,
  cause?: unknown,
): IntegrationError => {
  const what = problems.map((p) => `${p.path} ${p.exists ? 'already exists' : 'does not exist'}`).join(', ');
  return new IntegrationError(
    service,
    `the change no longer applies to ${input.repo} at ${input.startSha.slice(0, 12)}: ${what || 'its files are not as planned'} there; request it again to plan it afresh`,
    {
      code: 'conflict',
      status,
      details: { conflict: 'file-state', repo: input.repo, paths: problems.map((p) => p.path) },
      ...(cause !== undefined ? { cause } : {}),
    },
  );
};
