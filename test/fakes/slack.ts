import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local Slack Web API that the real @slack/web-api client (and Bolt's respond()) talk to over loopback:
 * `POST /api/<method>` with form-encoded or JSON bodies, bearer-token auth, `{ok:false,error}` answers with
 * HTTP 200 like Slack, 429 + Retry-After when told to, and Block Kit limits enforced like the real API
 * (50 blocks, section text 3,000 chars, header 150). `POST /response/<id>` stands in for response_url.
 */

export interface FakeCall {
  readonly method: string;
  readonly args: Record<string, unknown>;
  readonly headers: IncomingHttpHeaders;
  readonly at: number;
}

export interface FakeResponseUrlPost {
  readonly id: string;
  readonly body: Record<string, unknown>;
  readonly headers: IncomingHttpHeaders;
  readonly at: number;
}

export interface PostedFakeMessage {
  channel: string;
  ts: string;
  text: string;
  blocks: unknown[] | null;
  threadTs: string | null;
  updates: number;
  /** A thread reply also shown in the channel (reply_broadcast). */
  broadcast: boolean;
}

type Failure =
  | { readonly status: 429; readonly retryAfter: number }
  /** An HTTP error with no Slack body, as a failing load balancer answers. */
  | { readonly status: 500 | 502 | 503 }
  | { readonly error: string };

/** A file shared through files.getUploadURLExternal -> POST bytes -> files.completeUploadExternal. */
export interface FakeUpload {
  readonly fileId: string;
  readonly filename: string;
  readonly length: number;
  bytes: Buffer | null;
  /** Set by files.completeUploadExternal. */
  title: string | null;
  channelId: string | null;
  threadTs: string | null;
  initialComment: string | null;
  completed: boolean;
}

/** A modal opened with views.open (as Slack stores it: the view with its id and the opener). */
export interface FakeView {
  readonly id: string;
  readonly triggerId: string;
  readonly view: Record<string, unknown>;
  readonly at: number;
}

export interface FakeSlack {
  /** Web API base URL, ending in "/api/" (what SLACK_API_URL takes). */
  readonly apiUrl: string;
  readonly origin: string;
  readonly calls: FakeCall[];
  readonly responses: FakeResponseUrlPost[];
  readonly messages: PostedFakeMessage[];
  /** Files, from the upload URL request on (`completed` once shared in a channel). */
  readonly uploads: FakeUpload[];
  /** A response_url for a slash command payload; POSTs to it are recorded in `responses`. */
  responseUrl(id?: string): string;
  /**
   * The next `times` calls of `method` fail with 429 + Retry-After, an HTTP 5xx, or `{ok:false,error}`; with
   * `when`, only calls whose arguments it accepts (thread replies, say), the others passing by.
   */
  failNext(
    method: string,
    failure: Failure,
    times?: number,
    when?: (args: Record<string, unknown>) => boolean,
  ): void;
  /**
   * The next call of `method` is carried out (a message is posted) but its answer is held until released:
   * `reached` resolves once it was carried out (kill the caller there to test a crash after the effect).
   */
  holdNext(method: string): { readonly reached: Promise<void>; release(): void };
  /**
   * The next `times` POSTs of bytes to an upload URL answer this HTTP status (files.slack.com failing); the
   * bytes are not kept, so the file cannot be completed until a POST succeeds.
   */
  failUploadUrl(status: number, times?: number): void;
  /** For `ms` from now every request's connection is reset without an answer (Slack unreachable). */
  outage(ms: number): void;
  /** auth.test answers `{ok:false,error}` while set (e.g. 'invalid_auth', 'account_inactive'). */
  setAuthTestError(error: string | null): void;
  setUserGroup(groupId: string, userIds: readonly string[]): void;
  /** chat.postMessage/update to these channels answer channel_not_found. */
  hideChannel(channelId: string): void;
  /** chat.postMessage to this (private) channel answers not_in_channel: the bot was never invited. */
  leaveChannel(channelId: string): void;
  /**
   * Serves `apps.connections.open` (Socket Mode): it takes only the app-level token given here (an `xoxb-`
   * token gets `not_allowed_token_type`, like Slack) and answers `{ok:true, url}` with a fresh
   * `ws://…/link/?ticket=…` from `issueUrl`. Until attached, the method is unknown.
   */
  attachSocketMode(socket: { readonly appToken: string; issueUrl(): string }): void;
  /**
   * A trigger id as Slack puts in a slash command or interaction payload: views.open takes it once, within
   * 3 s of now (`expired_trigger_id` after, `exchanged_trigger_id` the second time, `invalid_trigger_id` for
   * one never issued).
   */
  issueTriggerId(options?: { readonly issuedAgoMs?: number }): string;
  /** Modals opened with views.open, in order. */
  readonly views: FakeView[];
  callsOf(method: string): FakeCall[];
  waitFor<T>(probe: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  close(): Promise<void>;
}

const MAX_BLOCKS = 50;
const MAX_SECTION_TEXT = 3000;
const MAX_HEADER_TEXT = 150;
const MAX_RESPONSE_URL_USES = 5;
/** Slack: "trigger_id ... expires after 3 seconds"; a modal holds up to 100 blocks, a title 24 characters. */
const TRIGGER_TTL_MS = 3000;
const MAX_VIEW_BLOCKS = 100;
const MAX_VIEW_TITLE = 24;

/** views.open's checks of the view itself, like Slack's `invalid_arguments` answers. */
export const validateModal = (view: unknown): string | null => {
  if (!view || typeof view !== 'object') return 'invalid_arguments';
  const v = view as Record<string, unknown>;
  if (v.type !== 'modal') return 'invalid_arguments';
  const title = v.title as { type?: unknown; text?: unknown } | undefined;
  if (title?.type !== 'plain_text' || typeof title.text !== 'string' || title.text === '')
    return 'invalid_arguments';
  if (title.text.length > MAX_VIEW_TITLE) return 'invalid_arguments';
  if (!Array.isArray(v.blocks) || v.blocks.length > MAX_VIEW_BLOCKS) return 'invalid_arguments';
  if (typeof v.callback_id !== 'string' || v.callback_id === '' || v.callback_id.length > 255)
    return 'invalid_arguments';
  if (typeof v.private_metadata === 'string' && v.private_metadata.length > 3000) return 'invalid_arguments';
  const hasInput = v.blocks.some((b) => (b as { type?: unknown }).type === 'input');
  // A modal with input blocks needs a submit button.
  if (hasInput && !(v.submit as { text?: unknown } | undefined)?.text) return 'invalid_arguments';
  for (const b of v.blocks as Record<string, unknown>[]) {
    if (typeof b.type !== 'string') return 'invalid_arguments';
    if (b.type === 'input' && (!b.label || !b.element)) return 'invalid_arguments';
  }
  return null;
};

const readJsonish = (raw: string, contentType: string | undefined): Record<string, unknown> => {
  if (raw === '') return {};
  if (contentType?.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  return Object.fromEntries(new URLSearchParams(raw));
};

/** Slack's form encoding carries arrays/objects as JSON strings. */
const asArray = (v: unknown): unknown[] | null => {
  if (v === undefined || v === null || v === '') return null;
  if (Array.isArray(v)) return v;
  if (typeof v === 'string') {
    const parsed: unknown = JSON.parse(v);
    return Array.isArray(parsed) ? parsed : null;
  }
  return null;
};

const textLength = (t: unknown): number =>
  t && typeof t === 'object' && typeof (t as { text?: unknown }).text === 'string'
    ? (t as { text: string }).text.length
    : 0;

/** The subset of Block Kit validation that bites in practice. Returns an error string or null. */
export const validateBlocks = (blocks: unknown[] | null): string | null => {
  if (blocks === null) return null;
  if (blocks.length > MAX_BLOCKS) return 'invalid_blocks';
  for (const b of blocks) {
    if (!b || typeof b !== 'object') return 'invalid_blocks';
    const block = b as { type?: unknown; text?: unknown; fields?: unknown };
    if (typeof block.type !== 'string') return 'invalid_blocks';
    if (block.type === 'section') {
      if (textLength(block.text) > MAX_SECTION_TEXT) return 'invalid_blocks';
      if (block.text === undefined && !Array.isArray(block.fields)) return 'invalid_blocks';
      if (Array.isArray(block.fields) && block.fields.some((f) => textLength(f) > 2000))
        return 'invalid_blocks';
    }
    if (block.type === 'header' && textLength(block.text) > MAX_HEADER_TEXT) return 'invalid_blocks';
  }
  return null;
};

export const startFakeSlack = async (
  options: {
    token?: string;
    teamId?: string;
    botUserId?: string;
    /** Slack allows 5 uses of a response_url; a benchmark replaying one payload raises this. */
    maxResponseUrlUses?: number;
  } = {},
): Promise<FakeSlack> => {
  const token = options.token ?? 'xoxb-fake-token-000000';
  const teamId = options.teamId ?? 'T0FAKE001';
  const botUserId = options.botUserId ?? 'U0BOT0001';
  const calls: FakeCall[] = [];
  const responses: FakeResponseUrlPost[] = [];
  const messages: PostedFakeMessage[] = [];
  const uploads: FakeUpload[] = [];
  let origin = '';
  const failures = new Map<
    string,
    { failure: Failure; left: number; when?: ((args: Record<string, unknown>) => boolean) | undefined }[]
  >();
  const groups = new Map<string, readonly string[]>();
  const hidden = new Set<string>();
  const notMemberOf = new Set<string>();
  const responseUses = new Map<string, number>();
  const triggers = new Map<string, { issuedAt: number; used: boolean }>();
  const views: FakeView[] = [];
  let triggerCounter = 0;
  let authError: string | null = null;
  let outageUntil = 0;
  const uploadUrlFailures: number[] = [];
  let socketMode: { readonly appToken: string; issueUrl(): string } | null = null;
  let tsCounter = 0;
  const nextTs = () => {
    tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(tsCounter).padStart(6, '0')}`;
  };

  const methods: Record<string, (args: Record<string, unknown>) => Record<string, unknown>> = {
    'auth.test': () =>
      authError
        ? { ok: false, error: authError }
        : {
            ok: true,
            url: 'https://fake.slack.com/',
            team: 'Fake Team',
            user: 'opsbot',
            team_id: teamId,
            user_id: botUserId,
            bot_id: 'B0BOT0001',
            is_enterprise_install: false,
          },
    'chat.postMessage': (a) => {
      const channel = String(a.channel ?? '');
      if (!channel) return { ok: false, error: 'channel_not_found' };
      if (hidden.has(channel)) return { ok: false, error: 'channel_not_found' };
      if (notMemberOf.has(channel)) return { ok: false, error: 'not_in_channel' };
      const blocks = asArray(a.blocks);
      if (!a.text && !blocks) return { ok: false, error: 'no_text' };
      const bad = validateBlocks(blocks);
      if (bad) return { ok: false, error: bad };
      const ts = nextTs();
      const threadTs = a.thread_ts ? String(a.thread_ts) : null;
      if (threadTs && !messages.some((m) => m.channel === channel && m.ts === threadTs)) {
        return { ok: false, error: 'thread_not_found' };
      }
      const msg: PostedFakeMessage = {
        channel,
        ts,
        text: String(a.text ?? ''),
        blocks,
        threadTs,
        updates: 0,
        broadcast: threadTs !== null && (a.reply_broadcast === true || a.reply_broadcast === 'true'),
      };
      messages.push(msg);
      return {
        ok: true,
        channel,
        ts,
        message: { type: 'message', user: botUserId, text: msg.text, ts, ...(blocks ? { blocks } : {}) },
      };
    },
    'chat.update': (a) => {
      const channel = String(a.channel ?? '');
      if (hidden.has(channel)) return { ok: false, error: 'channel_not_found' };
      const msg = messages.find((m) => m.channel === channel && m.ts === String(a.ts ?? ''));
      if (!msg) return { ok: false, error: 'message_not_found' };
      const blocks = asArray(a.blocks);
      const bad = validateBlocks(blocks);
      if (bad) return { ok: false, error: bad };
      if (a.text !== undefined) msg.text = String(a.text);
      if (blocks) msg.blocks = blocks;
      msg.updates += 1;
      return {
        ok: true,
        channel,
        ts: msg.ts,
        text: msg.text,
        message: { text: msg.text, ...(blocks ? { blocks } : {}) },
      };
    },
    'chat.postEphemeral': (a) => {
      const channel = String(a.channel ?? '');
      if (hidden.has(channel) || !channel) return { ok: false, error: 'channel_not_found' };
      if (!a.user) return { ok: false, error: 'user_not_in_channel' };
      const bad = validateBlocks(asArray(a.blocks));
      if (bad) return { ok: false, error: bad };
      return { ok: true, message_ts: nextTs() };
    },
    // Real answer: {ok, channel, permalink: "https://<workspace>.slack.com/archives/<C>/p<ts without dot>"};
    // a message that does not exist (or a channel we cannot see) is an error, not a made-up link.
    'chat.getPermalink': (a) => {
      const channel = String(a.channel ?? '');
      if (!channel || hidden.has(channel)) return { ok: false, error: 'channel_not_found' };
      const ts = String(a.message_ts ?? '');
      if (!messages.some((m) => m.channel === channel && m.ts === ts))
        return { ok: false, error: 'message_not_found' };
      return {
        ok: true,
        channel,
        permalink: `https://fake.slack.com/archives/${channel}/p${ts.replace('.', '')}`,
      };
    },
    // Slack's external upload flow: a one-time URL for `length` bytes, then complete with where to share it.
    'files.getUploadURLExternal': (a) => {
      const filename = String(a.filename ?? '');
      const length = Number(a.length);
      if (!filename || !Number.isInteger(length) || length <= 0)
        return { ok: false, error: 'invalid_arguments' };
      const fileId = `F0FAKE${String(uploads.length + 1).padStart(4, '0')}`;
      uploads.push({
        fileId,
        filename,
        length,
        bytes: null,
        title: null,
        channelId: null,
        threadTs: null,
        initialComment: null,
        completed: false,
      });
      return { ok: true, upload_url: `${origin}/upload/v1/${fileId}`, file_id: fileId };
    },
    'files.completeUploadExternal': (a) => {
      let files: unknown;
      try {
        files = typeof a.files === 'string' ? JSON.parse(a.files) : a.files;
      } catch {
        return { ok: false, error: 'invalid_arguments' };
      }
      if (!Array.isArray(files) || files.length === 0) return { ok: false, error: 'invalid_arguments' };
      const channel = a.channel_id ? String(a.channel_id) : null;
      if (channel && hidden.has(channel)) return { ok: false, error: 'channel_not_found' };
      const threadTs = a.thread_ts ? String(a.thread_ts) : null;
      if (threadTs && !messages.some((m) => m.channel === channel && m.ts === threadTs))
        return { ok: false, error: 'invalid_thread_ts' };
      const done: FakeUpload[] = [];
      for (const f of files as { id?: unknown; title?: unknown }[]) {
        const upload = uploads.find((u) => u.fileId === f.id);
        // The bytes must have been POSTed, all of them, before the file can be completed.
        if (!upload || upload.bytes === null || upload.bytes.length !== upload.length)
          return { ok: false, error: 'file_not_found' };
        done.push(upload);
        upload.title = typeof f.title === 'string' ? f.title : upload.filename;
      }
      for (const u of done) {
        u.channelId = channel;
        u.threadTs = threadTs;
        u.initialComment = a.initial_comment ? String(a.initial_comment) : null;
        u.completed = true;
      }
      return { ok: true, files: done.map((u) => ({ id: u.fileId, title: u.title })) };
    },
    // Real shape: top-level messages newest first, `oldest` inclusive bound, cursor paging with has_more.
    'conversations.history': (a) => {
      const channel = String(a.channel ?? '');
      if (!channel || hidden.has(channel)) return { ok: false, error: 'channel_not_found' };
      const oldest = Number(a.oldest ?? 0);
      const all = messages
        .filter((m) => m.channel === channel && m.threadTs === null && Number(m.ts) >= oldest)
        .sort((x, y) => Number(y.ts) - Number(x.ts));
      const limit = Math.min(Math.max(Number(a.limit ?? 100) || 100, 1), 999);
      const start = a.cursor ? Number(Buffer.from(String(a.cursor), 'base64').toString('utf8')) : 0;
      const page = all.slice(start, start + limit);
      const more = start + limit < all.length;
      return {
        ok: true,
        messages: page.map((m) => ({
          type: 'message',
          user: botUserId,
          text: m.text,
          ts: m.ts,
          ...(m.blocks ? { blocks: m.blocks } : {}),
        })),
        has_more: more,
        response_metadata: { next_cursor: more ? Buffer.from(String(start + limit)).toString('base64') : '' },
      };
    },
    // Real shape: the parent first, then the replies, oldest first; cursor paging with has_more.
    'conversations.replies': (a) => {
      const channel = String(a.channel ?? '');
      const ts = String(a.ts ?? '');
      if (!channel || hidden.has(channel)) return { ok: false, error: 'channel_not_found' };
      const parent = messages.find((m) => m.channel === channel && m.ts === ts);
      if (!parent) return { ok: false, error: 'thread_not_found' };
      const all = [parent, ...messages.filter((m) => m.channel === channel && m.threadTs === ts)];
      const limit = Math.min(Math.max(Number(a.limit ?? 1000) || 1000, 1), 1000);
      const start = a.cursor ? Number(Buffer.from(String(a.cursor), 'base64').toString('utf8')) : 0;
      const page = all.slice(start, start + limit);
      const more = start + limit < all.length;
      return {
        ok: true,
        messages: page.map((m) => ({
          type: 'message',
          user: botUserId,
          text: m.text,
          ts: m.ts,
          thread_ts: ts,
          ...(m.blocks ? { blocks: m.blocks } : {}),
        })),
        has_more: more,
        response_metadata: { next_cursor: more ? Buffer.from(String(start + limit)).toString('base64') : '' },
      };
    },
    'views.open': (a) => {
      const triggerId = String(a.trigger_id ?? '');
      const trigger = triggers.get(triggerId);
      if (!trigger) return { ok: false, error: 'invalid_trigger_id' };
      if (trigger.used) return { ok: false, error: 'exchanged_trigger_id' };
      if (Date.now() - trigger.issuedAt > TRIGGER_TTL_MS) return { ok: false, error: 'expired_trigger_id' };
      let view: unknown;
      try {
        view = typeof a.view === 'string' ? JSON.parse(a.view) : a.view;
      } catch {
        return { ok: false, error: 'invalid_arguments' };
      }
      const bad = validateModal(view);
      if (bad) return { ok: false, error: bad };
      trigger.used = true;
      const id = `V0FAKE${String(views.length + 1).padStart(4, '0')}`;
      views.push({ id, triggerId, view: view as Record<string, unknown>, at: Date.now() });
      return { ok: true, view: { id, team_id: teamId, ...(view as Record<string, unknown>) } };
    },
    'usergroups.users.list': (a) => {
      const members = groups.get(String(a.usergroup ?? ''));
      return members ? { ok: true, users: [...members] } : { ok: false, error: 'no_such_subteam' };
    },
    'conversations.info': (a) => {
      const channel = String(a.channel ?? '');
      if (hidden.has(channel)) return { ok: false, error: 'channel_not_found' };
      return {
        ok: true,
        channel: { id: channel, name: channel.toLowerCase(), is_channel: true, is_member: true },
      };
    },
  };

  const holds = new Map<string, { reach: () => void; released: Promise<void> }>();
  const server: Server = createServer((req, res) => {
    if (Date.now() < outageUntil) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const raw = body.toString('utf8');
      const url = req.url ?? '/';
      if (url.startsWith('/upload/v1/')) {
        // The upload URL takes the raw bytes (or a multipart form); no token: the URL itself is the secret.
        const upload = uploads.find((u) => u.fileId === url.slice('/upload/v1/'.length));
        if (req.method !== 'POST' || !upload || upload.completed) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('Not Found');
          return;
        }
        const refusal = uploadUrlFailures.shift();
        if (refusal !== undefined) {
          res.writeHead(refusal, { 'content-type': 'text/plain' });
          res.end(refusal >= 500 ? 'Internal Server Error' : 'Bad Request');
          return;
        }
        upload.bytes = body;
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`OK - ${body.length}`);
        return;
      }
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST') return send(405, { ok: false, error: 'method_not_allowed' });
      let args: Record<string, unknown>;
      try {
        args = readJsonish(raw, req.headers['content-type']);
      } catch {
        return send(200, { ok: false, error: 'invalid_json' });
      }
      if (url.startsWith('/response/')) {
        const id = decodeURIComponent(url.slice('/response/'.length));
        const uses = (responseUses.get(id) ?? 0) + 1;
        responseUses.set(id, uses);
        if (uses > (options.maxResponseUrlUses ?? MAX_RESPONSE_URL_USES))
          return send(404, { ok: false, error: 'used_url' });
        const bad = validateBlocks(asArray(args.blocks));
        if (bad) return send(400, { ok: false, error: bad });
        responses.push({ id, body: args, headers: req.headers, at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('ok');
        return;
      }
      if (!url.startsWith('/api/')) return send(404, { ok: false, error: 'unknown_method' });
      const method = url.slice('/api/'.length).split('?')[0] as string;
      calls.push({ method, args, headers: req.headers, at: Date.now() });
      const auth = req.headers.authorization;
      const given = auth?.startsWith('Bearer ')
        ? auth.slice('Bearer '.length)
        : (args.token as string | undefined);
      if (!given) return send(200, { ok: false, error: 'not_authed' });
      // Slack separates token types: an app-level token opens sockets and nothing else, and a bot token
      // cannot open one.
      const expected = method === 'apps.connections.open' && socketMode ? socketMode.appToken : token;
      if (given !== expected) {
        const wrongType =
          method === 'apps.connections.open' ? given.startsWith('xox') : given.startsWith('xapp-');
        return send(200, { ok: false, error: wrongType ? 'not_allowed_token_type' : 'invalid_auth' });
      }
      const queue = failures.get(method) ?? [];
      const at = queue.findIndex((f) => !f.when || f.when(args));
      const next = at >= 0 ? queue[at] : undefined;
      if (next) {
        next.left -= 1;
        if (next.left <= 0) queue.splice(at, 1);
        if ('status' in next.failure && next.failure.status !== 429) {
          return send(next.failure.status, { ok: false, error: 'internal_error' });
        }
        if ('status' in next.failure) {
          return send(
            429,
            { ok: false, error: 'ratelimited' },
            { 'retry-after': String(next.failure.retryAfter) },
          );
        }
        return send(200, { ok: false, error: next.failure.error });
      }
      if (method === 'apps.connections.open' && socketMode)
        return send(200, { ok: true, url: socketMode.issueUrl() });
      const impl = methods[method];
      if (!impl) return send(200, { ok: false, error: 'unknown_method' });
      const result = impl(args);
      const hold = holds.get(method);
      if (hold) {
        // Done (the message exists) but not answered yet: the caller is "between the post and its commit".
        holds.delete(method);
        hold.reach();
        void hold.released.then(() => send(200, result));
        return;
      }
      return send(200, result);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  let responseCounter = 0;

  return {
    apiUrl: `${origin}/api/`,
    origin,
    calls,
    responses,
    messages,
    uploads,
    responseUrl(id) {
      responseCounter += 1;
      return `${origin}/response/${encodeURIComponent(id ?? `r${responseCounter}`)}`;
    },
    holdNext(method) {
      let reach = (): void => undefined;
      let release = (): void => undefined;
      const reached = new Promise<void>((r) => {
        reach = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      holds.set(method, { reach, released });
      return { reached, release };
    },
    failNext(method, failure, times = 1, when) {
      const q = failures.get(method) ?? [];
      q.push({ failure, left: times, when });
      failures.set(method, q);
    },
    failUploadUrl(status, times = 1) {
      for (let i = 0; i < times; i++) uploadUrlFailures.push(status);
    },
    outage(ms) {
      outageUntil = Date.now() + ms;
    },
    setAuthTestError(error) {
      authError = error;
    },
    setUserGroup(groupId, userIds) {
      groups.set(groupId, userIds);
    },
    hideChannel(channelId) {
      hidden.add(channelId);
    },
    leaveChannel(channelId) {
      notMemberOf.add(channelId);
    },
    attachSocketMode(socket) {
      socketMode = socket;
    },
    views,
    issueTriggerId(o = {}) {
      triggerCounter += 1;
      const id = `${Date.now()}.${triggerCounter}.${Math.random().toString(16).slice(2, 10)}`;
      // issuedAgoMs: a command whose trigger id Slack issued that long ago (a slow path to opsbot).
      triggers.set(id, { issuedAt: Date.now() - (o.issuedAgoMs ?? 0), used: false });
      return id;
    },
    callsOf(method) {
      return calls.filter((c) => c.method === method);
    },
    async waitFor(probe, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = probe();
        if (v) return v as never;
        if (Date.now() > deadline) throw new Error('fake slack: condition not met in time');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
};
