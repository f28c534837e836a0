import { randomUUID } from 'node:crypto';

/**
 * How the forge fakes deliver webhooks: a POST of the JSON body to the configured URL with the forge's real
 * headers, one request per event, several in flight at once (a forge does not serialise its deliveries, so
 * they may arrive out of order). Failed deliveries (non-2xx, network error, no answer within the timeout)
 * are retried with the same delivery headers when the forge does that (GitLab), not when it does not
 * (GitHub: only a manual `redeliver`). Tests can hold deliveries and release them in any order.
 */

export interface DeliveryAttempt {
  readonly at: number;
  readonly status: number | null;
  readonly error: string | null;
  readonly ms: number;
}

export interface SentWebhook {
  readonly id: string;
  readonly event: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly attempts: DeliveryAttempt[];
  /** Settled: answered 2xx, or out of retries. */
  done: boolean;
  delivered: boolean;
}

export interface WebhookTarget {
  readonly url: string;
  /** Retries after a failed attempt (GitLab: some; GitHub: none). */
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly timeoutMs: number;
}

export interface WebhookSender {
  readonly sent: SentWebhook[];
  readonly target: WebhookTarget | null;
  configure(target: WebhookTarget | null): void;
  /** Queues one delivery (nothing is sent while no target is configured: like a project without a hook). */
  send(event: string, body: unknown, headers: (raw: string) => Record<string, string>): SentWebhook | null;
  /** Sends again a delivery that was sent before, with the same headers and body (GitHub "Redeliver"). */
  redeliver(id: string): SentWebhook;
  /** Deliveries are queued, not sent, until `release`. */
  hold(): void;
  /** Sends the held deliveries, in the order given (default: as queued), all at once. */
  release(order?: (held: SentWebhook[]) => SentWebhook[]): void;
  /** Runs `make` with its deliveries never sent (a test posts them by hand, or not at all). */
  withheld<T>(make: () => T): T;
  /** Resolves when every delivery queued so far has settled (held ones excepted). */
  settled(): Promise<void>;
}

export const createWebhookSender = (fetchImpl: typeof fetch = fetch): WebhookSender => {
  const sent: SentWebhook[] = [];
  let target: WebhookTarget | null = null;
  let holding = false;
  const held: SentWebhook[] = [];
  const inflight = new Set<Promise<void>>();

  const attempt = async (d: SentWebhook, t: WebhookTarget): Promise<boolean> => {
    const t0 = Date.now();
    try {
      const res = await fetchImpl(t.url, {
        method: 'POST',
        headers: { ...d.headers },
        body: d.body,
        signal: AbortSignal.timeout(t.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      d.attempts.push({ at: t0, status: res.status, error: null, ms: Date.now() - t0 });
      return res.status >= 200 && res.status < 300;
    } catch (err) {
      d.attempts.push({ at: t0, status: null, error: String(err), ms: Date.now() - t0 });
      return false;
    }
  };

  const deliver = (d: SentWebhook): void => {
    const t = target;
    if (!t) {
      d.done = true;
      return;
    }
    const p = (async () => {
      for (let i = 0; i <= t.retries; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, t.retryDelayMs * 2 ** (i - 1)));
        if (await attempt(d, t)) {
          d.delivered = true;
          break;
        }
      }
      d.done = true;
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };

  return {
    sent,
    get target() {
      return target;
    },
    configure(t) {
      target = t;
    },
    send(event, body, headers) {
      if (!target) return null;
      const raw = JSON.stringify(body);
      const d: SentWebhook = {
        id: randomUUID(),
        event,
        headers: headers(raw),
        body: raw,
        attempts: [],
        done: false,
        delivered: false,
      };
      sent.push(d);
      if (holding) held.push(d);
      else deliver(d);
      return d;
    },
    redeliver(id) {
      const orig = sent.find((s) => s.id === id);
      if (!orig) throw new Error(`no delivery ${id}`);
      const d: SentWebhook = { ...orig, attempts: [], done: false, delivered: false };
      sent.push(d);
      deliver(d);
      return d;
    },
    hold() {
      holding = true;
    },
    release(order) {
      holding = false;
      const batch = held.splice(0, held.length);
      for (const d of order ? order(batch) : batch) deliver(d);
    },
    withheld(make) {
      this.hold();
      try {
        return make();
      } finally {
        this.release(() => []);
      }
    },
    async settled() {
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
  };
};
