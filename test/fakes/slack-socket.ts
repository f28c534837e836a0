import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import type { FakeSlack } from './slack.js';

/**
 * A local Slack Socket Mode endpoint that the real @slack/socket-mode client (Bolt's SocketModeReceiver)
 * connects to over loopback, speaking the wire protocol Slack speaks:
 * - `apps.connections.open` (served by the fake Web API once attached) hands out a single-use
 *   `ws://127.0.0.1:<port>/link/?ticket=…&app_id=…`; any other path or a used/unknown ticket is refused at
 *   the upgrade with 401, like an expired Slack ticket;
 * - on connect the server sends `{"type":"hello","num_connections":N,"debug_info":{…},"connection_info":{"app_id":…}}`;
 * - envelopes are pushed as `{"envelope_id","type","payload","accepts_response_payload"}` (`slash_commands`,
 *   `interactive`, `events_api`), and the client's acks `{"envelope_id","payload"}` are recorded with the time
 *   they took; an ack after 3 s is what Slack shows the user as a timeout;
 * - `{"type":"disconnect","reason":…}` asks the client to reconnect through a fresh apps.connections.open;
 * - WebSocket pings are answered with pongs (and counted); the server can ping too.
 */

export const SLACK_ACK_DEADLINE_MS = 3000;

export interface SocketConnection {
  readonly id: number;
  readonly ticket: string;
  readonly openedAt: number;
  closedAt: number | null;
  /** Close code the client sent (1000 = normal closure); 1006 when the TCP socket just dropped. */
  closeCode: number | null;
  /** Whether the close handshake came from the client (true) or the server (false). */
  closedByClient: boolean | null;
  pingsFromClient: number;
  /** Every text frame the client sent, parsed (acks and anything unexpected). */
  readonly received: unknown[];
  readonly socket: WebSocket;
}

export interface SocketAck {
  readonly envelopeId: string;
  readonly connectionId: number;
  /** `payload` of the ack frame: `{}` for an empty ack, the response body when the app answered in the ack. */
  readonly payload: Record<string, unknown>;
  readonly at: number;
  /** Time from pushing the envelope to receiving its ack. */
  readonly ms: number;
}

export interface PushedEnvelope {
  readonly envelopeId: string;
  readonly connectionId: number;
  readonly frame: Record<string, unknown>;
  readonly sentAt: number;
  /** Resolves with the client's ack; rejects if none arrives within `timeoutMs` (default 5 s). */
  readonly acked: Promise<SocketAck>;
}

export interface PushOptions {
  readonly acceptsResponsePayload?: boolean;
  readonly retryAttempt?: number;
  readonly retryReason?: string;
  /** Which connection gets it (default: the newest open one). */
  readonly connectionId?: number;
  readonly timeoutMs?: number;
}

/** The fields of a slash command as Slack puts them in a Socket Mode `slash_commands` payload. */
export interface SlashCommandFields {
  readonly command: string;
  readonly text?: string;
  readonly user_id?: string;
  readonly user_name?: string;
  readonly channel_id?: string;
  readonly channel_name?: string;
  readonly response_url: string;
}

export interface FakeSocketMode {
  readonly appToken: string;
  readonly appId: string;
  /** ws://127.0.0.1:<port> */
  readonly origin: string;
  readonly connections: SocketConnection[];
  readonly acks: SocketAck[];
  /** Upgrade attempts refused (bad path, unknown or reused ticket). */
  readonly refused: { readonly url: string; readonly reason: string; readonly at: number }[];
  /** Tickets handed out by apps.connections.open, in order. */
  readonly tickets: string[];
  /** Open connections, oldest first. */
  open(): SocketConnection[];
  /** Resolves once `count` connections have been opened in total (hello sent on each). */
  waitForConnections(count: number, timeoutMs?: number): Promise<SocketConnection>;
  /** Pushes one envelope; Slack's envelope ids are UUIDs. */
  push(type: string, payload: Record<string, unknown>, options?: PushOptions): PushedEnvelope;
  pushSlashCommand(fields: SlashCommandFields, options?: PushOptions): PushedEnvelope;
  /** An `interactive` envelope (block_actions, view_submission, …) with the payload as given. */
  pushInteractive(payload: Record<string, unknown>, options?: PushOptions): PushedEnvelope;
  /** Sends `{"type":"disconnect","reason":…}` to the open connections (or one). */
  requestDisconnect(reason?: 'refresh_requested' | 'warning' | 'link_disabled', connectionId?: number): void;
  /** Drops a connection without a close handshake (a network cut or a Slack host dying). */
  drop(connectionId?: number): void;
  /** A WebSocket ping from the server; resolves with the round trip in ms once the pong arrives. */
  ping(connectionId?: number, timeoutMs?: number): Promise<number>;
  close(): Promise<void>;
}

const waitUntil = async <T>(
  probe: () => T | undefined | null | false,
  timeoutMs: number,
  what: string,
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`fake socket mode: ${what} not seen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

const refuseUpgrade = (socket: Duplex, status: number, text: string): void => {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
};

/**
 * Starts the endpoint on 127.0.0.1:0 and, when `slack` is given, attaches it to the fake Web API so that
 * `apps.connections.open` (with `appToken` only) returns a URL pointing here.
 */
export const startFakeSocketMode = async (
  options: { appToken?: string; appId?: string; slack?: FakeSlack } = {},
): Promise<FakeSocketMode> => {
  const appToken = options.appToken ?? 'xapp-1-A0OPSBOT-0000000000-fakeapplevelsecret';
  const appId = options.appId ?? 'A0OPSBOT';
  const connections: SocketConnection[] = [];
  const acks: SocketAck[] = [];
  const refused: FakeSocketMode['refused'] = [];
  const tickets: string[] = [];
  const unusedTickets = new Set<string>();
  const waiting = new Map<
    string,
    { sentAt: number; connectionId: number; resolve: (a: SocketAck) => void; reject: (why: string) => void }
  >();
  let nextConnectionId = 0;
  const terminated = new Set<number>();

  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('Upgrade Required');
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    const reason =
      url.pathname !== '/link/'
        ? 'unknown path'
        : !unusedTickets.has(ticket)
          ? tickets.includes(ticket)
            ? 'ticket already used'
            : 'unknown ticket'
          : null;
    if (reason) {
      refused.push({ url: req.url ?? '', reason, at: Date.now() });
      refuseUpgrade(socket, 401, 'Unauthorized');
      return;
    }
    unusedTickets.delete(ticket);
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws, ticket));
  });

  const accept = (ws: WebSocket, ticket: string): void => {
    nextConnectionId += 1;
    const conn: SocketConnection = {
      id: nextConnectionId,
      ticket,
      openedAt: Date.now(),
      closedAt: null,
      closeCode: null,
      closedByClient: null,
      pingsFromClient: 0,
      received: [],
      socket: ws,
    };
    ws.on('ping', () => {
      conn.pingsFromClient += 1; // ws answers with a pong on its own, as Slack does
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        conn.received.push({ binary: true });
        return;
      }
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        conn.received.push({ unparseable: data.toString() });
        return;
      }
      conn.received.push(msg);
      if (!msg || typeof msg !== 'object') return;
      const m = msg as { envelope_id?: unknown; payload?: unknown };
      if (typeof m.envelope_id !== 'string') return;
      const at = Date.now();
      const pending = waiting.get(m.envelope_id);
      const ack: SocketAck = {
        envelopeId: m.envelope_id,
        connectionId: conn.id,
        payload: m.payload && typeof m.payload === 'object' ? (m.payload as Record<string, unknown>) : {},
        at,
        ms: pending ? at - pending.sentAt : Number.NaN,
      };
      acks.push(ack);
      if (pending) {
        waiting.delete(m.envelope_id);
        pending.resolve(ack);
      }
    });
    ws.on('close', (code: number) => {
      conn.closedAt = Date.now();
      conn.closeCode = code;
      conn.closedByClient = !terminated.has(conn.id);
      for (const w of [...waiting.values()])
        if (w.connectionId === conn.id) w.reject('the connection closed');
    });
    connections.push(conn);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: connections.filter((c) => c.closedAt === null).length,
        debug_info: {
          host: `applink-fake-${conn.id}`,
          build_number: 118,
          approximate_connection_time: 18060,
        },
        connection_info: { app_id: appId },
      }),
    );
  };

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `ws://127.0.0.1:${port}`;

  const issueUrl = (): string => {
    const ticket = randomBytes(16).toString('hex');
    tickets.push(ticket);
    unusedTickets.add(ticket);
    return `${origin}/link/?ticket=${ticket}&app_id=${appId}`;
  };
  options.slack?.attachSocketMode({ appToken, issueUrl });

  const openConnections = (): SocketConnection[] => connections.filter((c) => c.closedAt === null);
  const pick = (connectionId: number | undefined): SocketConnection => {
    const open = openConnections();
    const conn = connectionId === undefined ? open[open.length - 1] : open.find((c) => c.id === connectionId);
    if (!conn) throw new Error('fake socket mode: no open connection to push to');
    return conn;
  };

  const push = (type: string, payload: Record<string, unknown>, o: PushOptions = {}): PushedEnvelope => {
    const conn = pick(o.connectionId);
    const envelopeId = randomUUID();
    const frame: Record<string, unknown> = {
      envelope_id: envelopeId,
      payload,
      type,
      accepts_response_payload: o.acceptsResponsePayload ?? type === 'slash_commands',
      ...(o.retryAttempt !== undefined ? { retry_attempt: o.retryAttempt } : {}),
      ...(o.retryReason !== undefined ? { retry_reason: o.retryReason } : {}),
    };
    const timeoutMs = o.timeoutMs ?? 5000;
    const sentAt = Date.now();
    const acked = new Promise<SocketAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(envelopeId);
        reject(
          new Error(`fake socket mode: envelope ${type} ${envelopeId} not acked within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      waiting.set(envelopeId, {
        sentAt,
        connectionId: conn.id,
        resolve: (a) => {
          clearTimeout(timer);
          resolve(a);
        },
        // Slack never takes an ack for an envelope on a socket that has closed (it redelivers elsewhere).
        reject: (why) => {
          clearTimeout(timer);
          waiting.delete(envelopeId);
          reject(new Error(`fake socket mode: envelope ${type} ${envelopeId} not acked: ${why}`));
        },
      });
    });
    acked.catch(() => undefined); // a caller that does not await the ack should not crash the run
    conn.socket.send(JSON.stringify(frame));
    return { envelopeId, connectionId: conn.id, frame, sentAt, acked };
  };

  return {
    appToken,
    appId,
    origin,
    connections,
    acks,
    refused,
    tickets,
    open: openConnections,
    waitForConnections(count, timeoutMs = 15_000) {
      return waitUntil(
        () => (connections.length >= count ? connections[count - 1] : null),
        timeoutMs,
        `connection #${count}`,
      );
    },
    push,
    pushSlashCommand(f, o) {
      return push(
        'slash_commands',
        {
          token: 'deprecated-verification-token',
          team_id: 'T0FAKE001',
          team_domain: 'fake',
          channel_id: f.channel_id ?? 'C0OPS',
          channel_name: f.channel_name ?? 'ops',
          user_id: f.user_id ?? 'U0ALICE',
          user_name: f.user_name ?? 'alice',
          command: f.command,
          text: f.text ?? '',
          api_app_id: appId,
          is_enterprise_install: 'false',
          response_url: f.response_url,
          trigger_id: `${Date.now()}.1234.${randomBytes(8).toString('hex')}`,
        },
        o,
      );
    },
    pushInteractive(payload, o) {
      return push('interactive', payload, o);
    },
    requestDisconnect(reason = 'refresh_requested', connectionId) {
      const targets = connectionId === undefined ? openConnections() : [pick(connectionId)];
      for (const c of targets) {
        c.socket.send(
          JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `applink-fake-${c.id}` } }),
        );
      }
    },
    drop(connectionId) {
      const c = pick(connectionId);
      terminated.add(c.id);
      c.socket.terminate();
    },
    ping(connectionId, timeoutMs = 2000) {
      const conn = pick(connectionId);
      const t0 = performance.now();
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('fake socket mode: no pong')), timeoutMs);
        conn.socket.once('pong', () => {
          clearTimeout(timer);
          resolve(performance.now() - t0);
        });
        conn.socket.ping(Buffer.from('ping from fake slack'));
      });
    },
    async close() {
      for (const c of openConnections()) {
        terminated.add(c.id);
        c.socket.terminate();
      }
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
};
