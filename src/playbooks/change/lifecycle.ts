import { randomBytes, randomUUID } from 'node:crypto';
import { AppError, IntegrationError, isAppError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { MergeRequestRef, MergeRequestStateEvent } from '../../integrations/forge/events.js';
import type { ForgeKind, ForgePort } from '../../integrations/forge/port.js';
import type { AuditOutcome, AuditRecord, ChangeRequest, Store } from '../../store/types.js';
import { type AmendDeps, applyAmend, ensureAmendNote } from '../amend/amend.js';
import { AMEND_KIND, amendRequestOf } from '../amend/change.js';
import { buildMrDescription, ensureBranch, ensureMergeRequest, samePlannedContent } from './ensure.js';
import { type ActorDecision, type ChangeFlowDeps, decideApproval, decideCancel, planDigest } from './flow.js';
import type { ChangeNoteData } from './notes.js';
import { parseStoredPlan } from './plan-schema.js';
import { addNotes, applyTransition, type ChangeEvent, HOLDS_BRANCH, IN_PROGRESS } from './transitions.js';
import type { ChangePlan, Replanner } from './types.js';

/**
 * The change lifecycle: request, approve, cancel, apply, forge events. Each returns one coded outcome; every
 * status change goes through the transitions table (transitions.ts). Decisions are recorded first (with their
 * audit row and thread notes, in one transaction) and the work they start follows without waiting for Slack;
 * the Slack thread is brought to the stored state by a reconciler (handlers/change-slack.ts).
 *
 * Applying runs under a lease on the change (renewed while it runs) and a lease per file (changes to one
 * file take turns). A replica killed halfway leaves an approved/applying change whose lease expires; the
 * resumer of any replica takes it over and the ensure steps find the branch, commit and MR already made.
 */

export interface FollowRequest {
  readonly ref: MergeRequestRef;
  readonly url: string;
  readonly channel: string;
  readonly threadTs: string;
  readonly changeId: string;
}

export interface ChangeLifecycleDeps {
  readonly store: Store;
  readonly forgeFor: (kind: ForgeKind) => ForgePort;
  /** Recomputes a stored plan from its request against the base head as it is now. */
  readonly replan: Replanner;
  /** Who may approve or cancel (config.access). */
  readonly access: Pick<ChangeFlowDeps, 'approvals' | 'commandRules' | 'isMember'>;
  readonly logger: Logger;
  /** This process, as the holder of leases. */
  readonly replicaId: string;
  /** Apply lease length: a killed replica's change is resumed by another this long after its last renewal. */
  readonly leaseMs: number;
  /** Apply attempts on retryable errors (forge 5xx, timeouts) before the change is marked failed. */
  readonly maxAttempts?: number;
  /** First retry delay; doubled per attempt, at most 5 minutes. */
  readonly retryBaseMs?: number;
  readonly now?: () => Date;
  /** After a transition or a queued note: Slack has something to show (the reconciler's kick). */
  readonly onChanged?: (changeId: string) => void;
  /** The pipeline follower: called when a change's MR is open (idempotent on its side). */
  readonly follow?: ((f: FollowRequest) => Promise<void>) | undefined;
  readonly newRef?: () => string;
  readonly sleep?: (ms: number) => Promise<void>;
  /** /amend: git and the forge for changing an MR's branch (absent: an amend change fails, naming why). */
  readonly amend?: ((kind: ForgeKind) => AmendDeps) | undefined;
  /** The requester's forge identity ("Name <email>") when known: the amend commit's Co-authored-by trailer. */
  readonly coAuthorOf?: ((slackUserId: string) => string | undefined) | undefined;
}

/** Builds the audit row of a click from its outcome (the request pipeline knows actor, args, timing). */
export type AuditStamp = (outcome: AuditOutcome, detail: string | null, change: ChangeRequest) => AuditRecord;

export type RequestOutcome =
  | {
      readonly kind: 'recorded';
      readonly change: ChangeRequest;
      readonly superseded: readonly ChangeRequest[];
    }
  /** The same change is approved, being applied or open: use that one. */
  | { readonly kind: 'in-progress'; readonly change: ChangeRequest };

type Refusal =
  | { readonly kind: 'unknown' }
  /** A click on an older preview of a change planned again since. */
  | { readonly kind: 'stale'; readonly change: ChangeRequest }
  | {
      readonly kind: 'refused';
      readonly change: ChangeRequest;
      readonly decision: ActorDecision & { allowed: false };
    }
  /** Nothing to do in the state it is in (already approved, open, cancelled...). */
  | { readonly kind: 'already'; readonly change: ChangeRequest };

export type ApproveOutcome =
  | Refusal
  | { readonly kind: 'approved'; readonly change: ChangeRequest; readonly retry: boolean };

export type CancelOutcome = Refusal | { readonly kind: 'cancelled'; readonly change: ChangeRequest };

export type ApplyOutcome =
  | { readonly kind: 'opened'; readonly change: ChangeRequest; readonly reused: boolean }
  | { readonly kind: 'replanned'; readonly change: ChangeRequest }
  | { readonly kind: 'obsolete'; readonly change: ChangeRequest }
  | { readonly kind: 'failed'; readonly change: ChangeRequest }
  /** A retryable error: the resumer tries again at `at`. */
  | { readonly kind: 'retrying'; readonly attempts: number; readonly at: Date; readonly reason: string }
  /** Another replica holds the lease, or the change is not approved any more. */
  | { readonly kind: 'not-ours' }
  /** Stopped (shutdown) or the lease was lost before finishing; another run picks it up. */
  | { readonly kind: 'interrupted' };

export type ForgeEventOutcome =
  | { readonly kind: 'updated'; readonly change: ChangeRequest; readonly from: string; readonly to: string }
  | { readonly kind: 'ignored'; readonly reason: 'unknown-mr' | 'stale' | 'unchanged' };

export interface ChangeLifecycle {
  /** The change of the same thing that is approved, being applied or open, if any (before posting a preview). */
  findInProgress(plan: ChangePlan): Promise<ChangeRequest | null>;
  /** Records a plan tied to its Slack thread; an older unapproved request of it is superseded. */
  request(input: {
    readonly plan: ChangePlan;
    readonly requestedBy: string;
    readonly requestedByName: string | null;
    readonly thread: { readonly channel: string; readonly ts: string };
    readonly threadUrl: string | null;
  }): Promise<RequestOutcome>;
  /** An Approve click: the approval and its audit row in one transaction, then the apply starts here. */
  approve(input: {
    readonly changeId: string;
    readonly digest: string | null;
    readonly userId: string;
    readonly userName: string | null;
    readonly channelId: string;
    readonly audit: AuditStamp;
  }): Promise<ApproveOutcome>;
  cancel(input: {
    readonly changeId: string;
    readonly userId: string;
    readonly channelId: string;
    readonly audit: AuditStamp;
  }): Promise<CancelOutcome>;
  /** Applies an approved change under its lease (what a click starts and the resumer resumes). */
  apply(changeId: string): Promise<ApplyOutcome>;
  /** An MR's state from a webhook or polling: merged, closed, reopened. Never moves a change backwards. */
  onForgeEvent(event: MergeRequestStateEvent): Promise<ForgeEventOutcome>;
  /** Starts resuming changes whose lease expired, every `intervalMs` (well under the lease). */
  startResumer(options: { readonly intervalMs: number }): { stop(): Promise<void> };
  /** Stops starting work and waits for the applies in flight (they stop at their next step). */
  stop(): Promise<void>;
}

export const changeTarget = (c: Pick<ChangeRequest, 'project' | 'branch'>): string =>
  `${c.project}@${c.branch}`;

class Interrupted extends Error {}

const backoffMs = (base: number, attempts: number): number => Math.min(300_000, base * 2 ** (attempts - 1));

export const createChangeLifecycle = (deps: ChangeLifecycleDeps): ChangeLifecycle => {
  const { store } = deps;
  const now = deps.now ?? (() => new Date());
  const newRef = deps.newRef ?? (() => randomBytes(6).toString('hex'));
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref()));
  const maxAttempts = deps.maxAttempts ?? 5;
  const retryBaseMs = deps.retryBaseMs ?? Math.max(1_000, Math.floor(deps.leaseMs / 4));
  const log = deps.logger;
  const running = new Map<string, Promise<ApplyOutcome>>();
  let stopping = false;

  const changed = (id: string): void => {
    try {
      deps.onChanged?.(id);
    } catch (err) {
      log.warn({ err, changeId: id }, 'change listener failed');
    }
  };

  const follow = async (change: ChangeRequest): Promise<void> => {
    if (
      !deps.follow ||
      change.mrNumber === null ||
      !change.mrUrl ||
      !change.slackChannel ||
      !change.slackThreadTs
    )
      return;
    await deps
      .follow({
        ref: { forge: change.forge, repo: change.project, number: change.mrNumber },
        url: change.mrUrl,
        channel: change.slackChannel,
        threadTs: change.slackThreadTs,
        changeId: change.id,
      })
      .catch((err: unknown) => log.warn({ err, changeId: change.id }, 'following the MR pipeline failed'));
  };

  /** One transition in its own transaction (with its notes), then the reconciler's kick. */
  const move = async (
    id: string,
    event: ChangeEvent,
    patch: Parameters<typeof applyTransition>[3] = {},
    notes: readonly ChangeNoteData[] = [],
    audit?: (moved: ChangeRequest) => AuditRecord,
  ): Promise<ChangeRequest | null> => {
    const moved = await store.transaction(async (tx) => {
      const m = await applyTransition(tx, id, event, patch, notes);
      if (m && audit) await tx.audit.record(audit(m));
      return m;
    });
    if (moved) changed(id);
    return moved;
  };

  /** The audit row of an apply's outcome: the approver's change, under the apply run's correlation id. */
  const applyAudit =
    (ref: string, outcome: AuditOutcome, detail: string) =>
    (c: ChangeRequest): AuditRecord => ({
      at: now(),
      actorId: c.approvedBy ?? c.requestedBy,
      actorName: c.approvedByName,
      source: 'slack',
      command: c.kind,
      args: `apply ${c.id}`,
      channelId: c.slackChannel,
      target: changeTarget(c),
      outcome,
      detail: detail.slice(0, 1000),
      correlationId: ref,
      durationMs: null,
    });

  // -------------------------------------------------------------------------------------------------------
  // Branches: a change that made a commit on its branch and is finished leaves the branch to history; the
  // same request made again gets the next generation (`-2`, `-3`...), deterministically.

  const resolveBranch = async (
    plan: ChangePlan,
  ): Promise<{ branch: string; holder: ChangeRequest | null; passed: ChangeRequest[] }> => {
    const passed: ChangeRequest[] = [];
    for (let n = 1; n < 100; n++) {
      const branch = n === 1 ? plan.branch : `${plan.branch}-${n}`;
      const latest = await store.changes.findByBranch(plan.forge, plan.repo, branch);
      if (!latest) return { branch, holder: null, passed };
      if (IN_PROGRESS.includes(latest.status)) return { branch, holder: latest, passed };
      if (latest.headSha !== null) {
        passed.push(latest);
        continue;
      }
      return { branch, holder: latest, passed };
    }
    throw new AppError('conflict', `Branch ${plan.branch} has been requested too many times.`);
  };

  const findInProgress = async (plan: ChangePlan): Promise<ChangeRequest | null> => {
    const { holder } = await resolveBranch(plan);
    return holder && IN_PROGRESS.includes(holder.status) ? holder : null;
  };

  const request: ChangeLifecycle['request'] = async (input) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { branch, holder, passed } = await resolveBranch(input.plan);
      if (holder && IN_PROGRESS.includes(holder.status)) return { kind: 'in-progress', change: holder };
      const plan: ChangePlan = { ...input.plan, branch };
      const id = randomUUID();
      const superseded = [...passed, ...(holder ? [holder] : [])].filter((c) =>
        HOLDS_BRANCH.includes(c.status),
      );
      // An /amend preview made out of date by its branch's new head (superseded, no successor yet) points at
      // this newer request of the same change ("Preview again"), so its thread links to the new preview.
      const outdated =
        holder?.kind === AMEND_KIND && holder.status === 'superseded' && holder.supersededBy === null
          ? holder
          : null;
      try {
        const out = await store.transaction(async (tx) => {
          const replaced: ChangeRequest[] = [];
          for (const old of superseded) {
            const moved = await applyTransition(tx, old.id, 'supersede', { supersededBy: id });
            if (!moved) throw new Retry(); // it moved under us (approved meanwhile?): look again
            replaced.push(moved);
          }
          const change = await tx.changes.create({
            id,
            kind: plan.kind,
            target: plan.target,
            forge: plan.forge,
            project: plan.repo,
            baseBranch: plan.baseBranch,
            branch: plan.branch,
            baseSha: plan.baseSha,
            headSha: null,
            mrNumber: null,
            mrUrl: null,
            requestedBy: input.requestedBy,
            requestedByName: input.requestedByName,
            approvedBy: null,
            approvedByName: null,
            status: 'planned',
            plan: JSON.stringify(plan),
            slackChannel: input.thread.channel,
            slackThreadTs: input.thread.ts,
            slackStatusTs: null,
            threadUrl: input.threadUrl,
          });
          if (outdated) await tx.changes.update(outdated.id, { supersededBy: id }, { touch: true });
          return { change, replaced };
        });
        for (const old of out.replaced) changed(old.id);
        if (outdated) changed(outdated.id);
        changed(id);
        return { kind: 'recorded', change: out.change, superseded: out.replaced };
      } catch (err) {
        if (err instanceof Retry || (isAppError(err) && err.code === 'conflict')) continue;
        throw err;
      }
    }
    throw new AppError('conflict', 'This change is being requested by someone else right now; try again.');
  };

  // -------------------------------------------------------------------------------------------------------
  // Clicks

  const lookUp = async (changeId: string, digest: string | null): Promise<Refusal | ChangeRequest> => {
    const change = await store.changes.get(changeId);
    if (!change) return { kind: 'unknown' };
    if (digest !== null && (change.status === 'planned' || change.status === 'failed')) {
      if (planDigest(parseStoredPlan(change.plan, change.id)) !== digest) return { kind: 'stale', change };
    }
    return change;
  };

  const approve: ChangeLifecycle['approve'] = async (input) => {
    const found = await lookUp(input.changeId, input.digest);
    if (!('id' in found)) return found;
    if (found.status !== 'planned' && found.status !== 'failed') return { kind: 'already', change: found };
    const decision = await decideApproval(deps.access, found, input.userId, input.channelId);
    if (!decision.allowed) return { kind: 'refused', change: found, decision };
    const retry = found.status === 'failed';
    const moved = await store.transaction(async (tx) => {
      const change = await applyTransition(
        tx,
        found.id,
        'approve',
        {
          approvedBy: input.userId,
          approvedByName: input.userName,
          attempts: 0,
          nextAttemptAt: null,
          reason: null,
          errorRef: null,
        },
        [{ kind: 'approved', by: input.userId, retry }],
      );
      if (change) {
        await tx.audit.record(
          input.audit('approved', retry ? 'approved again after a failed attempt' : null, change),
        );
      }
      return change;
    });
    if (!moved) {
      const now2 = await store.changes.get(found.id);
      return now2 ? { kind: 'already', change: now2 } : { kind: 'unknown' };
    }
    changed(moved.id);
    // The work starts now, on this replica; nothing Slack does can hold it up. If this process dies, the
    // lease runs out and another replica resumes it.
    void apply(moved.id).catch((err: unknown) => log.error({ err, changeId: moved.id }, 'apply failed'));
    return { kind: 'approved', change: moved, retry };
  };

  const cancel: ChangeLifecycle['cancel'] = async (input) => {
    const found = await lookUp(input.changeId, null); // cancelling an older preview is still a cancel
    if (!('id' in found)) return found;
    if (found.status !== 'planned' && found.status !== 'failed') return { kind: 'already', change: found };
    const decision = await decideCancel(deps.access, found, input.userId, input.channelId);
    if (!decision.allowed) return { kind: 'refused', change: found, decision };
    const moved = await store.transaction(async (tx) => {
      const change = await applyTransition(tx, found.id, 'cancel', { actor: input.userId }, [
        { kind: 'cancelled', by: input.userId },
      ]);
      if (change) await tx.audit.record(input.audit('cancelled', null, change));
      return change;
    });
    if (!moved) {
      const now2 = await store.changes.get(found.id);
      return now2 ? { kind: 'already', change: now2 } : { kind: 'unknown' };
    }
    changed(moved.id);
    return { kind: 'cancelled', change: moved };
  };

  // -------------------------------------------------------------------------------------------------------
  // Apply

  const apply = (changeId: string): Promise<ApplyOutcome> => {
    const inFlight = running.get(changeId);
    if (inFlight) return inFlight;
    if (stopping) return Promise.resolve({ kind: 'interrupted' });
    const run = applyOnce(changeId).finally(() => running.delete(changeId));
    running.set(changeId, run);
    return run;
  };

  const applyOnce = async (changeId: string): Promise<ApplyOutcome> => {
    const holder = deps.replicaId;
    const claimed = await store.changes.claimLease(changeId, holder, deps.leaseMs);
    if (!claimed) return { kind: 'not-ours' };
    const ref = newRef();
    const plan = parseStoredPlan(claimed.plan, claimed.id);
    // One lease per file (sorted, all or none): a change to two files waits for any change to either of them,
    // not only for a change to exactly the same set of files. Amends of the same MR branch take turns.
    const lockNames =
      plan.kind === AMEND_KIND
        ? [`amend:${plan.forge}:${plan.repo}:${plan.baseBranch}`]
        : [...new Set(plan.files.map((f) => `target:${plan.forge}:${plan.repo}:${f.path}`))].sort();
    const lockHolder = `${changeId}@${holder}`;
    const releaseLocks = async (names: readonly string[]): Promise<void> => {
      for (const name of names) await store.locks.release(name, lockHolder).catch(() => undefined);
    };
    const acquireLocks = async (): Promise<boolean> => {
      const got: string[] = [];
      for (const name of lockNames) {
        if (!(await store.locks.tryAcquire(name, lockHolder, deps.leaseMs))) {
          await releaseLocks(got);
          return false;
        }
        got.push(name);
      }
      return true;
    };
    const runLog = log.child({ changeId, correlationId: ref, target: plan.target, branch: plan.branch });
    let lost = false;
    let locked = false;
    const heartbeat = setInterval(
      () => {
        store.changes
          .renewLease(changeId, holder, deps.leaseMs)
          .then(async (ok) => {
            if (!ok) lost = true;
            if (locked) {
              for (const name of lockNames) await store.locks.tryAcquire(name, lockHolder, deps.leaseMs);
            }
          })
          .catch((err: unknown) => runLog.warn({ err }, 'lease renewal failed'));
      },
      Math.max(100, Math.floor(deps.leaseMs / 3)),
    );
    heartbeat.unref();
    const step = (): void => {
      if (lost || stopping) throw new Interrupted();
    };
    try {
      // Changes to the same file take turns: wait for the one in front (or for its lease to run out).
      let told = false;
      while (!(await acquireLocks())) {
        step();
        if (!told) {
          told = true;
          await store.transaction(async (tx) => {
            const c = await tx.changes.update(changeId, {}, { touch: true });
            if (c) await addNotes(tx.notes, c, [{ kind: 'waiting' }]);
          });
          changed(changeId);
          runLog.info('waiting for another change to the same file');
        }
        await sleep(Math.min(1_000, Math.max(50, Math.floor(deps.leaseMs / 10))));
      }
      locked = true;
      step();
      let change = (await store.changes.get(changeId)) ?? claimed;
      if (change.status === 'approved') change = (await move(changeId, 'start')) ?? change;
      if (change.status !== 'applying') return { kind: 'not-ours' };
      return await ensureAll(change, plan, step, runLog, ref);
    } catch (err) {
      if (err instanceof Interrupted) {
        runLog.info({ lost }, 'apply interrupted; another run resumes it');
        return { kind: 'interrupted' };
      }
      return await failOrRetry(changeId, holder, err, runLog, ref);
    } finally {
      clearInterval(heartbeat);
      if (locked) await releaseLocks(lockNames);
      await store.changes.releaseLease(changeId, holder).catch(() => undefined);
    }
  };

  const ensureAll = async (
    change: ChangeRequest,
    stored: ChangePlan,
    step: () => void,
    runLog: Logger,
    ref: string,
  ): Promise<ApplyOutcome> => {
    if (stored.kind === AMEND_KIND) return ensureAmend(change, stored, runLog, ref);
    const forge = deps.forgeFor(stored.forge);
    let plan = stored;
    // 1. No branch yet: the plan must still match the base head before anything is written.
    if ((await forge.getBranchHead(plan.repo, plan.branch)) === null) {
      const baseHead = await forge.getBranchHead(plan.repo, plan.baseBranch);
      if (baseHead === null)
        throw new AppError('not_found', `Base branch ${plan.baseBranch} no longer exists in ${plan.repo}.`);
      if (baseHead !== plan.baseSha) {
        const again = await deps.replan(plan);
        step();
        if (again.kind === 'nothing-to-do') {
          const c = await move(
            change.id,
            'obsolete',
            { reason: again.reason },
            [{ kind: 'obsolete', reason: again.reason }],
            applyAudit(ref, 'nothing_to_do', again.reason),
          );
          return c ? { kind: 'obsolete', change: c } : { kind: 'not-ours' };
        }
        if (again.kind === 'refused') throw new AppError('bad_input', again.reason);
        const next: ChangePlan = { ...again.plan, branch: plan.branch };
        if (!samePlannedContent(plan, next)) {
          const c = await move(
            change.id,
            'replan',
            { approvedBy: null, approvedByName: null, baseSha: next.baseSha, plan: JSON.stringify(next) },
            [{ kind: 'replanned' }],
            applyAudit(ref, 'planned', 're-planned: the base branch moved and the change differs'),
          );
          return c ? { kind: 'replanned', change: c } : { kind: 'not-ours' };
        }
        plan = next; // the same edit on a newer base: what was approved is what gets written
        await store.changes.update(change.id, { baseSha: plan.baseSha, plan: JSON.stringify(plan) });
      }
    }
    step();
    const branch = await ensureBranch(forge, plan);
    if (branch.kind === 'taken') throw new AppError('conflict', branch.reason);
    await store.changes.update(change.id, { headSha: branch.headSha });
    runLog.info({ headSha: branch.headSha, reused: branch.reused }, 'change branch ready');
    step();
    const current = (await store.changes.get(change.id)) ?? change;
    const { mr, reused } = await ensureMergeRequest(
      forge,
      plan,
      buildMrDescription(plan, current, current.threadUrl),
    );
    const opened = await move(
      change.id,
      'opened',
      { headSha: branch.headSha, mrNumber: mr.number, mrUrl: mr.url, mrStateAt: now() },
      [{ kind: 'opened', mrUrl: mr.url, mrNumber: mr.number, reused: reused || branch.reused }],
      applyAudit(ref, 'ok', `opened ${mr.url}${reused ? ' (reused)' : ''}`),
    );
    runLog.info({ mr: mr.url, reused }, 'change merge request ready');
    const final = opened ?? (await store.changes.get(change.id));
    if (!final) return { kind: 'not-ours' };
    if (final.status === 'open') await follow(final);
    return { kind: 'opened', change: final, reused };
  };

  /**
   * An amend: `applyAmend` on the head the preview was computed on (never onto a branch that moved), the MR
   * note, then the change is open and its MR's pipeline followed in the thread. A branch that moved is a
   * failure whose note says who pushed what (and offers a preview on the new head); nothing is pushed.
   */
  /** Open amend changes whose MR note may be missing (it failed, or this process has not checked since start). */
  const amendNotesDue = new Set<string>();

  /**
   * Leaves an open amend change's MR note if the MR does not carry it yet (its marker), under a lease so two
   * replicas do not both post it. Returns true when the note is there (or the change no longer needs one).
   */
  const reconcileAmendNote = async (changeId: string): Promise<boolean> => {
    const change = await store.changes.get(changeId);
    if (!change || change.kind !== AMEND_KIND || change.status !== 'open' || !deps.amend) return true;
    const lock = `amend-note:${change.id}`;
    if (!(await store.locks.tryAcquire(lock, deps.replicaId, deps.leaseMs))) return false;
    try {
      const plan = parseStoredPlan(change.plan, change.id);
      const req = amendRequestOf(plan);
      const amendDeps = deps.amend(plan.forge);
      const input = amendInputOf(change, req);
      const problem = await ensureAmendNote(amendDeps, input, {
        kind: 'pushed',
        target: {
          label: plan.target,
          url: req.mrUrl,
          title: req.mrTitle,
          sourceRepo: req.sourceRepo,
          branch: req.sourceBranch,
          fork: req.sourceRepo !== req.ref.repo,
          author: null,
        },
        oldSha: req.headSha,
        newSha: change.headSha ?? req.headSha,
        mode: req.mode,
        diff: req.patch,
        files: req.files,
        earlier: true,
      });
      if (problem) log.warn({ changeId, problem }, 'the MR note of an amend is still missing');
      return problem === null;
    } finally {
      await store.locks.release(lock, deps.replicaId).catch(() => undefined);
    }
  };

  const person = (id: string | null, name: string | null): string => (name ? `@${name}` : (id ?? 'unknown'));

  const amendInputOf = (
    change: ChangeRequest,
    req: ReturnType<typeof amendRequestOf>,
  ): Parameters<typeof applyAmend>[1] => {
    const coAuthor = change.requestedBy ? deps.coAuthorOf?.(change.requestedBy) : undefined;
    return {
      ref: req.ref,
      patch: req.patch,
      mode: req.mode,
      message: req.message,
      expectedHead: req.headSha,
      requester: `${person(change.requestedBy, change.requestedByName)} (Slack)`,
      approver: change.approvedBy ? `${person(change.approvedBy, change.approvedByName)} (Slack)` : null,
      reason: req.reason,
      threadUrl: change.threadUrl,
      changeId: change.id,
      ...(coAuthor ? { coAuthor } : {}),
    };
  };

  const ensureAmend = async (
    change: ChangeRequest,
    plan: ChangePlan,
    runLog: Logger,
    ref: string,
  ): Promise<ApplyOutcome> => {
    if (!deps.amend) throw new AppError('config_invalid', '/amend is not set up in this opsbot.');
    const req = amendRequestOf(plan);
    const out = await applyAmend(deps.amend(plan.forge), amendInputOf(change, req));
    switch (out.kind) {
      case 'pushed':
      case 'nothing_to_do': {
        // Pushed now, or by an earlier attempt of this change that was cut off before recording it (its
        // commit found on the branch; the note ensured once): both are this change's push.
        const pushed = out.kind === 'pushed';
        const earlier = pushed && out.earlier;
        const newSha = pushed ? out.newSha : out.headSha;
        const at = `${out.target.sourceRepo}:${out.target.branch}`;
        const opened = await move(
          change.id,
          'opened',
          { headSha: newSha, mrNumber: req.ref.number, mrUrl: out.target.url, mrStateAt: now() },
          [
            {
              kind: 'amend_pushed',
              branch: out.target.branch,
              mode: req.mode,
              oldSha: pushed ? out.oldSha : null,
              newSha,
              mrUrl: out.target.url,
              mrNumber: req.ref.number,
              already: !pushed,
              noteProblem: pushed ? out.noteProblem : null,
            },
          ],
          applyAudit(
            ref,
            pushed ? 'ok' : 'nothing_to_do',
            pushed
              ? `pushed ${newSha} onto ${at} (${req.mode})${earlier ? ' by an earlier attempt, found after a restart' : ''}`
              : `already on ${at} at ${newSha}`,
          ),
        );
        runLog.info({ mr: out.target.url, newSha, pushed }, 'amend pushed');
        // The note could not be left: the resumer tries again until the MR carries it.
        if (pushed && out.noteProblem) amendNotesDue.add(change.id);
        const final = opened ?? (await store.changes.get(change.id));
        if (!final) return { kind: 'not-ours' };
        if (final.status === 'open') await follow(final);
        return { kind: 'opened', change: final, reused: !pushed };
      }
      case 'head_moved': {
        const reason = `${out.target.branch} moved since the preview (${out.expected.slice(0, 12)} -> ${out.actual?.slice(0, 12) ?? 'deleted'})`;
        runLog.info({ expected: out.expected, actual: out.actual }, 'amend refused: the branch moved');
        // Out of date for good (its head is gone): superseded, not failed, so its Approve cannot try again.
        const outdated = await move(
          change.id,
          'head-moved',
          { reason, errorRef: ref, attempts: 0, nextAttemptAt: null },
          [
            {
              kind: 'amend_head_moved',
              branch: out.target.branch,
              expected: out.expected,
              actual: out.actual,
              commits: out.commits.map((c) => ({ sha: c.sha, author: c.author, subject: c.subject })),
            },
          ],
          applyAudit(ref, 'failed', `${reason}; nothing was pushed`),
        );
        // For the caller the apply failed (nothing pushed); the change's status says it is out of date.
        return outdated ? { kind: 'failed', change: outdated } : { kind: 'not-ours' };
      }
      case 'refused':
        throw new AppError('bad_input', out.hunk ? `${out.message}\n${out.hunk}` : out.message);
    }
  };

  const failOrRetry = async (
    changeId: string,
    holder: string,
    err: unknown,
    runLog: Logger,
    ref: string,
  ): Promise<ApplyOutcome> => {
    const reason = isAppError(err) ? err.userMessage : "Something went wrong on opsbot's side.";
    const current = await store.changes.get(changeId).catch(() => null);
    const attempts = (current?.attempts ?? 0) + 1;
    const retryable =
      (err instanceof IntegrationError && err.retryable) || (isAppError(err) && err.code === 'store');
    if (retryable && attempts < maxAttempts) {
      const at = new Date(now().getTime() + backoffMs(retryBaseMs, attempts));
      runLog.warn({ err, ref, attempts, retryAt: at }, 'apply failed; retrying later');
      await store.changes
        .releaseLease(changeId, holder, { attempts, nextAttemptAt: at, reason })
        .catch(() => undefined);
      return { kind: 'retrying', attempts, at, reason };
    }
    runLog.error({ err, ref, attempts }, 'apply failed');
    const failed = await move(
      changeId,
      'fail',
      { reason, errorRef: ref, attempts: 0, nextAttemptAt: null },
      [{ kind: 'failed', reason, ref }],
      applyAudit(ref, 'failed', isAppError(err) ? `${err.code}: ${reason}` : 'internal'),
    ).catch(() => null);
    return failed ? { kind: 'failed', change: failed } : { kind: 'not-ours' };
  };

  // -------------------------------------------------------------------------------------------------------
  // Forge events

  const STATE_EVENT = { open: 'mr-opened', merged: 'mr-merged', closed: 'mr-closed' } as const;

  const onForgeEvent: ChangeLifecycle['onForgeEvent'] = async (event) => {
    let change = await store.changes.findByMergeRequest(event.forge, event.repo, event.number);
    if (change && !['open', 'merged', 'closed', 'applying'].includes(change.status)) change = null;
    if (!change && event.sourceBranch) {
      // An MR made by an apply that has not recorded it yet (killed right after creating it).
      const byBranch = await store.changes.findByBranch(event.forge, event.repo, event.sourceBranch);
      if (byBranch?.status === 'applying') change = byBranch;
    }
    if (!change) return { kind: 'ignored', reason: 'unknown-mr' };
    if (change.mrStateAt && event.at.getTime() < change.mrStateAt.getTime())
      return { kind: 'ignored', reason: 'stale' };
    const from = change.status;
    const moved = await move(change.id, STATE_EVENT[event.state], {
      mrNumber: event.number,
      ...(event.url ? { mrUrl: event.url } : {}),
      ...(event.headSha ? { headSha: event.headSha } : {}),
      mrStateAt: event.at,
      actor: event.actor,
    });
    if (!moved) return { kind: 'ignored', reason: 'unchanged' };
    if (moved.status === 'open') await follow(moved);
    return { kind: 'updated', change: moved, from, to: moved.status };
  };

  // -------------------------------------------------------------------------------------------------------
  // Resumer

  const startResumer: ChangeLifecycle['startResumer'] = ({ intervalMs }) => {
    let timer: NodeJS.Timeout | null = null;
    let pass: Promise<void> | null = null;
    let stopped = false;
    let followedOpen = false;
    let checkedAmendNotes = false;
    const tick = async (): Promise<void> => {
      if (!followedOpen && deps.follow) {
        followedOpen = true;
        for (const c of await store.changes.listByStatus(['open'], 500)) await follow(c);
      }
      if (!checkedAmendNotes) {
        // After a start (a crash may have cut an apply off after its push): every open amend's note is checked.
        checkedAmendNotes = true;
        for (const c of await store.changes.listByStatus(['open'], 500))
          if (c.kind === AMEND_KIND) amendNotesDue.add(c.id);
      }
      for (const id of [...amendNotesDue]) {
        if (stopped || stopping) return;
        const done = await reconcileAmendNote(id).catch((err: unknown) => {
          log.warn({ err, changeId: id }, 'could not check the MR note of an amend');
          return false;
        });
        if (done) amendNotesDue.delete(id);
      }
      const due = await store.changes.listResumable(20);
      for (const c of due) {
        if (stopped || stopping) return;
        if (running.has(c.id)) continue;
        log.info({ changeId: c.id, status: c.status }, 'resuming a change whose lease expired');
        void apply(c.id).catch((err: unknown) => log.error({ err, changeId: c.id }, 'resumed apply failed'));
      }
    };
    const schedule = (): void => {
      if (stopped) return;
      timer = setTimeout(() => {
        pass = tick()
          .catch((err: unknown) => log.warn({ err }, 'resumer pass failed'))
          .finally(() => {
            pass = null;
            schedule();
          });
      }, intervalMs);
      timer.unref();
    };
    schedule();
    return {
      async stop() {
        stopped = true;
        if (timer) clearTimeout(timer);
        await pass;
      },
    };
  };

  return {
    findInProgress,
    request,
    approve,
    cancel,
    apply,
    onForgeEvent,
    startResumer,
    async stop() {
      stopping = true;
      await Promise.allSettled([...running.values()]);
    },
  };
};

class Retry extends Error {}
