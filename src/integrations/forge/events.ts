import type { JobEvent, PipelineEvent } from '../../core/ci.js';
import type { ForgeKind } from './port.js';

/**
 * Forge events in opsbot's terms, whatever carried them (a GitLab or GitHub webhook, or polling). The
 * webhook and polling code turns wire payloads into these; the change lifecycle and the pipeline follower
 * consume them. No forge payload shape leaks past this file's types.
 */

/** One merge request (GitLab) or pull request (GitHub). */
export interface MergeRequestRef {
  readonly forge: ForgeKind;
  /** GitLab `path_with_namespace`, GitHub `owner/repo`. */
  readonly repo: string;
  /** GitLab iid, GitHub PR number. */
  readonly number: number;
}

/** The MR's state as last seen: opened or updated (open), merged, or closed without merging. */
export interface MergeRequestStateEvent extends MergeRequestRef {
  readonly state: 'open' | 'merged' | 'closed';
  readonly url: string | null;
  readonly sourceBranch: string | null;
  readonly headSha: string | null;
  /** Forge user name of who merged or closed it, when the forge says. */
  readonly actor: string | null;
  /** When the forge says it happened (merged_at / closed_at / updated_at). */
  readonly at: Date;
}

// CI vocabulary and events live in core (the store applies them too); forge code imports them from here.
export {
  aggregateStatus,
  CI_STATUSES,
  type CiEventTarget,
  type CiJobState,
  type CiRunState,
  type CiStatus,
  ciRank,
  isTerminalCi,
  type JobEvent,
  type PipelineEvent,
} from '../../core/ci.js';

export type MergeRequestEvent = MergeRequestStateEvent & { readonly kind: 'merge_request' };

/** Everything the webhook parsers and the poller produce; one code path applies them. */
export type ForgeEvent = MergeRequestEvent | PipelineEvent | JobEvent;

/** What a webhook delivery means to opsbot. */
export type ParsedDelivery =
  | { readonly kind: 'events'; readonly events: readonly ForgeEvent[] }
  | { readonly kind: 'ignored'; readonly reason: string };
