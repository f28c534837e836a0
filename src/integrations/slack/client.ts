import {
  type ChatPostMessageArguments,
  ErrorCode,
  type RetryOptions,
  WebClient,
  type WebClientOptions,
} from '@slack/web-api';
import { IntegrationError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { PostedMessage, SlackIdentity, SlackMessage, SlackPort } from './port.js';
import { slackLogLevel, toSlackLogger } from './sdk-logger.js';

export interface SlackClientSettings {
  readonly token: string;
  /** Web API base URL ending in "/" (config.slack.apiUrl; SLACK_API_URL overrides it). */
  readonly apiUrl: string;
  /** Retries of a failed call (network error, 5xx, 429). config.slack.postRetries. */
  readonly retries: number;
  /** A 429 asking to wait longer than this fails instead of stalling the answer (config.slack.maxRetryAfterMs, default 30 s). */
  readonly maxRetryAfterMs?: number;
  readonly timeoutMs?: number;
  readonly logger: Logger;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onUpstreamError?: (service: 'slack') => void;
}

/**
 * Retries are deliberate: a few quick ones with a cap, not the SDK default (10 retries over ~30 min). A 429
 * is not left to the SDK either, which would pause the client's whole queue for Retry-After seconds: the
 * call is rejected (`rejectRateLimitedCalls`) and retried here after Retry-After, for that call only.
 */
export const buildSlackClientOptions = (
  s: Pick<SlackClientSettings, 'apiUrl' | 'retries' | 'timeoutMs' | 'logger' | 'fetch'>,
): WebClientOptions => {
  const retryConfig: RetryOptions = {
    retries: s.retries,
    factor: 2,
    minTimeout: 250,
    maxTimeout: 2_000,
    maxRetryTime: 15_000,
    randomize: true,
  };
  return {
    slackApiUrl: s.apiUrl,
    retryConfig,
    rejectRateLimitedCalls: true,
    timeout: s.timeoutMs ?? 10_000,
    logger: toSlackLogger(s.logger, 'slack-web-api'),
    logLevel: slackLogLevel(s.logger.level),
    ...(s.fetch ? { fetch: s.fetch } : {}),
  };
};

interface SdkError {
  code?: string;
  retryAfter?: number;
  statusCode?: number;
  data?: { error?: string };
}

const toIntegrationError = (method: string, err: unknown): IntegrationError => {
  const e = (err ?? {}) as SdkError;
  if (e.code === ErrorCode.PlatformError) {
    const slackError = e.data?.error ?? 'unknown_error';
    return new IntegrationError('slack', `Slack refused ${method}: ${slackError}.`, {
      cause: err,
      retryable: false,
      details: { method, slackError },
    });
  }
  if (e.code === ErrorCode.RateLimitedError) {
    return new IntegrationError('slack', `Slack is rate limiting ${method}; try again in a minute.`, {
      cause: err,
      retryable: true,
      status: 429,
      details: { method, slackError: 'ratelimited', retryAfterSeconds: e.retryAfter ?? null },
    });
  }
  if (e.code === ErrorCode.HTTPError) {
    return new IntegrationError('slack', `Slack answered HTTP ${e.statusCode ?? '?'} to ${method}.`, {
      cause: err,
      retryable: true,
      status: e.statusCode ?? null,
      details: { method, slackError: 'http_error' },
    });
  }
  return new IntegrationError('slack', `Slack could not be reached for ${method}.`, {
    cause: err,
    retryable: true,
    details: { method, slackError: 'request_error' },
  });
};

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const createSlackClient = (s: SlackClientSettings): SlackPort => {
  const web = new WebClient(s.token, buildSlackClientOptions(s));
  const log = s.logger.child({ component: 'slack' });
  const sleep = s.sleep ?? defaultSleep;
  const maxRetryAfterMs = s.maxRetryAfterMs ?? 30_000;
  const fetchFn = s.fetch ?? fetch;

  const call = async <T>(method: string, fn: () => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const e = (err ?? {}) as SdkError;
        const waitMs = (e.retryAfter ?? 1) * 1000;
        if (e.code === ErrorCode.RateLimitedError && attempt < s.retries && waitMs <= maxRetryAfterMs) {
          log.warn(
            { method, retryAfterSeconds: e.retryAfter, attempt: attempt + 1 },
            'slack rate limited; retrying',
          );
          await sleep(waitMs);
          continue;
        }
        const mapped = toIntegrationError(method, err);
        s.onUpstreamError?.('slack');
        log.warn(
          { method, slackError: mapped.details.slackError, status: mapped.status },
          'slack call failed',
        );
        throw mapped;
      }
    }
  };

  const blocksOf = (m: SlackMessage) => (m.blocks ? { blocks: m.blocks as never } : {});

  return {
    async authTest(): Promise<SlackIdentity> {
      const r = await call('auth.test', () => web.auth.test());
      return {
        userId: r.user_id ?? '',
        botId: r.bot_id ?? null,
        teamId: r.team_id ?? '',
        team: r.team ?? '',
        url: r.url ?? '',
      };
    },
    async postMessage(channel, message): Promise<PostedMessage> {
      const r = await call('chat.postMessage', () =>
        web.chat.postMessage({
          channel,
          text: message.text,
          ...blocksOf(message),
          ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
          // A thread reply also shown in the channel (Slack takes it only with thread_ts).
          ...(message.threadTs && message.replyBroadcast ? { reply_broadcast: true } : {}),
          unfurl_links: false,
          unfurl_media: false,
        } as ChatPostMessageArguments),
      );
      return { channel: r.channel ?? channel, ts: r.ts ?? '' };
    },
    async updateMessage(channel, ts, message): Promise<PostedMessage> {
      const r = await call('chat.update', () =>
        web.chat.update({ channel, ts, text: message.text, ...blocksOf(message) }),
      );
      return { channel: r.channel ?? channel, ts: r.ts ?? ts };
    },
    async postEphemeral(channel, user, message): Promise<void> {
      await call('chat.postEphemeral', () =>
        web.chat.postEphemeral({ channel, user, text: message.text, ...blocksOf(message) }),
      );
    },
    async openView(triggerId, view): Promise<{ readonly viewId: string }> {
      const r = await call('views.open', () =>
        web.views.open({
          trigger_id: triggerId,
          view: view as unknown as Parameters<typeof web.views.open>[0]['view'],
        }),
      );
      return { viewId: r.view?.id ?? '' };
    },
    async getPermalink(channel, ts): Promise<string> {
      const r = await call('chat.getPermalink', () => web.chat.getPermalink({ channel, message_ts: ts }));
      if (!r.permalink) {
        throw new IntegrationError('slack', 'Slack returned no permalink.', {
          details: { method: 'chat.getPermalink', slackError: 'no_permalink' },
        });
      }
      return r.permalink;
    },
    async uploadFile(upload): Promise<{ fileId: string }> {
      // 1. Where to send the bytes (a one-time URL) and the file's id.
      const target = await call('files.getUploadURLExternal', () =>
        web.files.getUploadURLExternal({ filename: upload.filename, length: upload.bytes.byteLength }),
      );
      if (!target.upload_url || !target.file_id) {
        throw new IntegrationError('slack', 'Slack returned no upload URL.', {
          details: { method: 'files.getUploadURLExternal', slackError: 'no_upload_url' },
        });
      }
      // 2. The bytes themselves (not a Web API method: no token, no JSON answer).
      let lastErr: unknown;
      for (let attempt = 0; attempt <= s.retries; attempt++) {
        try {
          const res = await fetchFn(target.upload_url, {
            method: 'POST',
            headers: { 'content-type': 'application/octet-stream' },
            body: upload.bytes,
            signal: AbortSignal.timeout(s.timeoutMs ?? 30_000),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) {
            lastErr = null;
            break;
          }
          lastErr = new Error(`HTTP ${res.status}`);
          if (res.status < 500 && res.status !== 429) break;
        } catch (err) {
          lastErr = err;
        }
        await sleep(250 * 2 ** attempt);
      }
      if (lastErr) {
        s.onUpstreamError?.('slack');
        log.warn({ method: 'file upload', error: String(lastErr) }, 'slack file upload failed');
        throw new IntegrationError('slack', 'Slack did not accept the file upload.', {
          cause: lastErr,
          retryable: true,
          details: { method: 'files.upload', slackError: 'upload_failed' },
        });
      }
      // 3. Share it where it belongs.
      await call('files.completeUploadExternal', () =>
        web.files.completeUploadExternal({
          files: [{ id: target.file_id as string, title: upload.title }],
          channel_id: upload.channelId,
          ...(upload.threadTs ? { thread_ts: upload.threadTs } : {}),
          ...(upload.initialComment ? { initial_comment: upload.initialComment } : {}),
        }),
      );
      return { fileId: target.file_id };
    },
    async listThreadReplies(channel, threadTs) {
      const out: { ts: string; blockIds: string[] }[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const r = await call('conversations.replies', () =>
          web.conversations.replies({ channel, ts: threadTs, limit: 200, ...(cursor ? { cursor } : {}) }),
        );
        for (const m of r.messages ?? []) {
          if (!m.ts || m.ts === threadTs) continue;
          const blocks = (m.blocks ?? []) as Array<{ block_id?: string }>;
          out.push({ ts: m.ts, blockIds: blocks.map((b) => b.block_id ?? '').filter((id) => id !== '') });
        }
        cursor = r.response_metadata?.next_cursor || undefined;
        if (!r.has_more || !cursor) break;
      }
      return out;
    },
    async listChannelMessages(channel, oldestTs) {
      const out: { ts: string; blockIds: string[] }[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const r = await call('conversations.history', () =>
          web.conversations.history({
            channel,
            oldest: oldestTs,
            inclusive: true,
            limit: 200,
            ...(cursor ? { cursor } : {}),
          }),
        );
        for (const m of r.messages ?? []) {
          if (!m.ts) continue;
          const blocks = (m.blocks ?? []) as Array<{ block_id?: string }>;
          out.push({ ts: m.ts, blockIds: blocks.map((b) => b.block_id ?? '').filter((id) => id !== '') });
        }
        cursor = r.response_metadata?.next_cursor || undefined;
        if (!r.has_more || !cursor) break;
      }
      return out;
    },
    async listUserGroupMembers(groupId): Promise<readonly string[]> {
      const r = await call('usergroups.users.list', () => web.usergroups.users.list({ usergroup: groupId }));
      return r.users ?? [];
    },
    async respond(responseUrl, message): Promise<void> {
      const body = JSON.stringify({
        response_type: message.responseType ?? 'ephemeral',
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks } : {}),
        ...(message.replaceOriginal !== undefined ? { replace_original: message.replaceOriginal } : {}),
      });
      let lastErr: unknown;
      for (let attempt = 0; attempt <= s.retries; attempt++) {
        try {
          const res = await fetchFn(responseUrl, {
            method: 'POST',
            headers: { 'content-type': 'application/json; charset=utf-8' },
            body,
            signal: AbortSignal.timeout(s.timeoutMs ?? 10_000),
          });
          await res.arrayBuffer().catch(() => undefined);
          if (res.ok) return;
          if (res.status < 500 && res.status !== 429) {
            lastErr = new Error(`HTTP ${res.status}`);
            break; // expired (404) or used up: retrying cannot help
          }
          lastErr = new Error(`HTTP ${res.status}`);
          const retryAfter = Number(res.headers.get('retry-after') ?? '1');
          await sleep(Math.min(maxRetryAfterMs, (Number.isFinite(retryAfter) ? retryAfter : 1) * 1000));
        } catch (err) {
          lastErr = err;
          await sleep(250 * 2 ** attempt);
        }
      }
      s.onUpstreamError?.('slack');
      log.warn({ method: 'response_url', error: String(lastErr) }, 'slack response_url failed');
      throw new IntegrationError('slack', 'Slack did not accept the reply (response_url).', {
        cause: lastErr,
        retryable: false,
        details: { method: 'response_url', slackError: 'response_url_failed' },
      });
    },
  };
};
