/**
 * One error family for the whole app. `code` is a literal a caller can switch on, `userMessage` is safe to
 * show in Slack or a terminal (no secrets, no stack, no raw SDK text), `cause` keeps the original for logs.
 * Expected outcomes (not allowed, nothing to do, already open) are returned as data, not thrown.
 */
export type AppErrorCode =
  | 'config_invalid'
  | 'bad_input'
  | 'not_found'
  | 'ambiguous'
  | 'forbidden'
  | 'upstream'
  | 'timeout'
  | 'conflict'
  | 'store'
  | 'internal';

export interface AppErrorOptions {
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
}

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly userMessage: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: AppErrorCode, userMessage: string, options: AppErrorOptions = {}) {
    super(userMessage, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.userMessage = userMessage;
    this.details = options.details ?? {};
  }
}

export type IntegrationService =
  | 'gce'
  | 'logging'
  | 'compute'
  | 'monitoring'
  | 'gitlab'
  | 'github'
  | 'git'
  | 'slack';

/** An upstream failure mapped into domain terms by an adapter's `errors.ts`. */
export class IntegrationError extends AppError {
  readonly service: IntegrationService;
  readonly retryable: boolean;
  readonly status: number | null;

  constructor(
    service: IntegrationService,
    userMessage: string,
    options: AppErrorOptions & { retryable?: boolean; status?: number | null; code?: AppErrorCode } = {},
  ) {
    super(options.code ?? 'upstream', userMessage, options);
    this.name = 'IntegrationError';
    this.service = service;
    this.retryable = options.retryable ?? false;
    this.status = options.status ?? null;
  }
}

export const isAppError = (err: unknown): err is AppError => err instanceof AppError;
