import { createConnection, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real server (PostgreSQL, for the store outage suite): what a failover, a network
 * cut or a database restart looks like from opsbot's side, without stopping the server other tests use.
 * `cut()` destroys every connection through it and refuses new ones (each is accepted and reset at once, as a
 * host whose database is down answers); `blackhole()` answers nothing any more, on the connections open now
 * and on new ones, and resets nothing (a dropped network, a primary gone in a failover); `restore()` forwards
 * new connections again, while the ones black-holed stay silent (their server is gone) until the proxy closes.
 */

export interface TcpProxy {
  readonly port: number;
  /** Connections forwarded now. */
  readonly open: number;
  /** Connections accepted since the start (forwarded or reset). */
  readonly accepted: number;
  /** Connections reset because the proxy was cut. */
  readonly refused: number;
  readonly isCut: boolean;
  cut(): void;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export const startTcpProxy = async (target: { host: string; port: number }): Promise<TcpProxy> => {
  interface Pair {
    readonly client: Socket;
    readonly upstream: Socket | null;
    silent: boolean;
  }
  const pairs = new Set<Pair>();
  let mode: 'forward' | 'reset' | 'silent' = 'forward';
  let accepted = 0;
  let refused = 0;
  // allowHalfOpen: a black-holed connection does not answer a FIN either (pg's end() waits for one).
  const server = createServer({ allowHalfOpen: true }, (client) => {
    accepted += 1;
    client.on('error', () => undefined);
    if (mode === 'reset') {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = mode === 'silent' ? null : createConnection({ ...target, allowHalfOpen: true });
    const pair: Pair = { client, upstream, silent: mode === 'silent' };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream?.destroy();
    };
    client.on('close', end);
    if (!upstream) return; // accepted, and never answered
    upstream.on('error', () => undefined);
    upstream.on('close', () => {
      if (!pair.silent) end();
    });
    client.on('data', (d: Buffer) => {
      if (!pair.silent) upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!pair.silent) client.write(d);
    });
    client.on('end', () => {
      if (!pair.silent) upstream.end();
    });
    upstream.on('end', () => {
      if (!pair.silent) client.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    get refused() {
      return refused;
    },
    get isCut() {
      return mode !== 'forward';
    },
    cut() {
      mode = 'reset';
      for (const { client, upstream } of pairs) {
        client.resetAndDestroy();
        upstream?.destroy();
      }
      pairs.clear();
    },
    blackhole() {
      mode = 'silent';
      for (const pair of pairs) pair.silent = true;
    },
    restore() {
      mode = 'forward';
    },
    close() {
      mode = 'reset';
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream?.destroy();
      }
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
};

/** `url` with its host and port replaced by the proxy's (the rest, search_path options included, kept). */
export const viaProxy = (url: string, proxy: TcpProxy): string => {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(proxy.port);
  return u.toString();
};
