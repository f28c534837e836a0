import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DestinationStream } from 'pino';
import { type Config, loadConfig } from './core/config.js';
import { AppError } from './core/errors.js';
import { buildLogger, type Logger, SecretSanitizer } from './core/logger.js';
import { type Env, secretValues } from './core/secrets.js';
import { type AmendHandlerDeps, createAmendActionHandler, registerAmendActions } from './handlers/amend.js';
import { pipelineRenderers } from './handlers/blocks/pipeline.js';
import { buildWhyRebootBlocks, buildWhyRebootProgressBlocks } from './handlers/blocks/why-reboot.js';
import {
  type ChangeHandlerDeps,
  createChangeActionHandler,
  registerChangeActions,
} from './handlers/change-actions.js';
import { type ChangeSlackReconciler, createChangeSlackReconciler } from './handlers/change-slack.js';
import type { DiagDeps } from './handlers/diag.js';
import { type CommandPipeline, createAuditWriter, createCommandPipeline } from './handlers/pipeline.js';
import { createPipelineActionHandler, registerPipelineActions } from './handlers/pipeline-actions.js';
import { registerCommands } from './handlers/register.js';
import { buildCommandRegistry, type HandlerDeps } from './handlers/registry.js';
import { createDeliveryRunner, createWebhookHandler } from './handlers/webhooks.js';
import type { WhyRebootDeps } from './handlers/why-reboot.js';
import { createForge, createForges } from './integrations/forge/create.js';
import type { ParsedDelivery } from './integrations/forge/events.js';
import { parseGithubWebhook } from './integrations/forge/github-events.js';
import { parseGitlabWebhook } from './integrations/forge/gitlab-events.js';
import type { ForgeKind, ForgePort } from './integrations/forge/port.js';
import { createGceAdapters, type GceAdapters } from './integrations/gce/adapter.js';
import { gceAuthOptions } from './integrations/gce/auth.js';
import { createMonitoringAdapter, type MonitoringAdapter } from './integrations/gce/monitoring.js';
import type { ComputePort } from './integrations/gce/port.js';
import { changeBranch } from './integrations/git/workspace.js';
import { createSlackApp } from './integrations/slack/app.js';
import { createSlackClient } from './integrations/slack/client.js';
import type { SlackIdentity } from './integrations/slack/port.js';
import { createUserGroupResolver } from './integrations/slack/usergroups.js';
import type { AmendDeps } from './playbooks/amend/amend.js';
import { describeApprovers } from './playbooks/change/flow.js';
import {
  type ChangeLifecycle,
  createChangeLifecycle,
  type FollowRequest,
} from './playbooks/change/lifecycle.js';
import { replanStoredPlan } from './playbooks/change/plan-requests.js';
import {
  createPipelineFollower,
  type EnsureFollow,
  type OnMergeRequestState,
  type PipelineFollower,
} from './playbooks/pipelines/follower.js';
import { githubWebOf } from './playbooks/pipelines/mr-ref.js';
import { analyze } from './playbooks/why-reboot/analyze.js';
import { collectEvidence } from './playbooks/why-reboot/collect.js';
import { createInFlight, type SignalSource } from './server/drain.js';
import { createReadiness } from './server/health.js';
import { createHttpServer } from './server/http-server.js';
import { createMetrics, type Metrics } from './server/metrics.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';

export interface StartOpsbotOptions {
  readonly env: Env;
  readonly configPath: string | null;
  /** Default: pino JSON on stderr, scrubbing every secret value from config. */
  readonly logger?: Logger;
  /** Where the default logger writes (tests capture lines here). */
  readonly destination?: DestinationStream;
  /** SIGTERM/SIGINT source: `process` for `opsbot serve`, an EventEmitter in tests. None = no handlers. */
  readonly signals?: SignalSource;
  /** Called once shutdown triggered by a signal has finished, with the exit code (0). */
  readonly onShutdown?: (exitCode: number) => void;
  /** Bind address (default all interfaces). */
  readonly host?: string;
  /** Overrides the /why-reboot playbook (tests: fake GCE servers or stand-ins); null disables it. */
  readonly whyReboot?: WhyRebootDeps | null;
  /** Overrides the /diag playbook (tests); null disables it. Default: the live one over the GCE adapters. */
  readonly diag?: DiagDeps | null;
  readonly commands?: HandlerDeps['commands'];
  /** Compute Engine for `/tf-import vm` (tests: the real adapter over a fake); default: the GCE adapters. */
  readonly compute?: ComputePort;
  /** fetch used for the Slack Web API and response_url. */
  readonly fetch?: typeof fetch;
  /** Wall clock in ms (signature freshness, readiness cache). */
  readonly now?: () => number;
  /** Socket Mode: how long startup waits for Slack's hello before failing (default 30 s). */
  readonly slackConnectTimeoutMs?: number;
  /**
   * Also told each state change (opened, merged, closed) of every followed MR, after the change lifecycle
   * (tests observe merges here).
   */
  readonly onMergeRequestState?: OnMergeRequestState;
  /**
   * Replaces the pipeline follower as the change lifecycle's `follow` (tests of the lifecycle alone); default:
   * the follower's ensureFollow, so a change's MR CI shows in the change's thread.
   */
  readonly follow?: (f: FollowRequest) => Promise<void>;
}

export interface RunningOpsbot {
  readonly port: number;
  readonly config: Config;
  readonly store: Store;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Follows an MR's CI in a Slack thread (idempotent); the change lifecycle's `follow`. */
  readonly ensureFollow: EnsureFollow;
  /** The change lifecycle (forge events go to `changes.onForgeEvent`). */
  readonly changes: ChangeLifecycle;
  /** Stops accepting, drains in-flight commands up to http.drainTimeoutMs, flushes audit rows, closes the store. */
  stop(): Promise<void>;
}

/**
 * The composition root: config -> logger (every secret registered for scrubbing) -> store -> Slack client
 * and Bolt app -> command pipeline and handlers -> HTTP server (Slack in HTTP mode, /healthz, /readyz,
 * /metrics). The only module that knows every concrete implementation.
 */
export const startOpsbot = async (options: StartOpsbotOptions): Promise<RunningOpsbot> => {
  const config = loadConfig(options.env, options.configPath, { requireSlack: true });
  const sanitizer = new SecretSanitizer();
  sanitizer.register(...secretValues(config.secrets));
  const logger =
    options.logger ??
    buildLogger({
      level: config.logging.level,
      sanitizer,
      ...(options.destination ? { destination: options.destination } : {}),
    });
  const now = options.now ?? Date.now;
  const metrics = createMetrics();

  const store = await openStore({
    databaseUrl: config.secrets.DATABASE_URL,
    dataDir: config.store.dataDir,
    logger: logger.child({ component: 'store' }),
  });

  const botToken = config.secrets.SLACK_BOT_TOKEN as string; // required by loadConfig(requireSlack)
  const slack = createSlackClient({
    token: botToken,
    apiUrl: config.slack.apiUrl,
    retries: config.slack.postRetries,
    logger,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    onUpstreamError: (service) => metrics.upstreamErrors.inc({ service }),
  });

  let identity: SlackIdentity | null = null;
  const readiness = createReadiness(
    {
      store: () => store.ping(),
      slack: async () => {
        identity = await slack.authTest();
      },
    },
    { now },
  );

  const inFlight = createInFlight();
  const slackApp = createSlackApp({
    transport:
      config.slack.mode === 'http'
        ? { mode: 'http', signingSecrets: [config.secrets.SLACK_SIGNING_SECRET as string] }
        : { mode: 'socket', appToken: config.secrets.SLACK_APP_TOKEN as string },
    botToken,
    apiUrl: config.slack.apiUrl,
    retries: config.slack.postRetries,
    logger,
    inFlight,
    identity: () => identity,
    onAck: (seconds) => metrics.ackDuration.observe(seconds),
    now,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.slackConnectTimeoutMs !== undefined
      ? { connectTimeoutMs: options.slackConnectTimeoutMs }
      : {}),
  });

  const audit = createAuditWriter(store.audit, {
    logger,
    onError: () => metrics.upstreamErrors.inc({ service: 'store' }),
  });
  const groups = createUserGroupResolver(slack, { now });
  const pipeline = createCommandPipeline({
    config,
    slack,
    isMember: (g, u) => groups.isMember(g, u),
    audit,
    metrics,
    logger,
  });
  // Google and forge clients are created on first use: a config without them still starts.
  let gce: GceAdapters | null = null;
  const getGce = (): GceAdapters => {
    gce ??= createGceAdapters({
      logging: { apiEndpoint: config.google.endpoints.logging },
      compute: { apiEndpoint: config.google.endpoints.compute },
      ...gceAuthOptions(config.secrets), // GOOGLE_OAUTH_ACCESS_TOKEN, else ADC
    });
    return gce;
  };
  const whyReboot = options.whyReboot !== undefined ? options.whyReboot : buildWhyRebootDeps(config, getGce);
  // The pipeline follower and the change lifecycle know each other: the lifecycle follows its MR with the
  // follower's ensureFollow, and the follower hands every state change of a followed MR to the lifecycle.
  let lifecycleRef: ChangeLifecycle | null = null;
  const pipelines = buildPipelineFollower(config, {
    store,
    pipeline,
    metrics,
    logger,
    scrub: (text) => sanitizer.scrub(text),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    onMergeRequestState: async (e) => {
      await lifecycleRef?.onForgeEvent(e);
      await options.onMergeRequestState?.(e);
    },
  });
  let monitoring: MonitoringAdapter | null = null;
  const getMonitoring = (): MonitoringAdapter => {
    monitoring ??= createMonitoringAdapter({
      apiEndpoint: config.google.endpoints.monitoring,
      ...gceAuthOptions(config.secrets),
    });
    return monitoring;
  };
  const diag = options.diag !== undefined ? options.diag : buildDiagDeps(config, getGce, getMonitoring);
  const {
    handlers: changes,
    amendFor,
    lifecycle,
    reconciler,
  } = buildChanges(config, {
    store,
    slack,
    pipeline,
    logger,
    isMember: (g, u) => groups.isMember(g, u),
    compute: options.compute ? () => options.compute as ComputePort : () => getGce().compute,
    workspaceUrl: () => (identity as SlackIdentity | null)?.url ?? null,
    follow:
      options.follow ??
      (async (f) => {
        await pipelines.follower.ensureFollow({ ...f, followedBy: null });
      }),
  });
  lifecycleRef = lifecycle;
  const forgeHosts = {
    gitlab: config.forges.gitlab?.host ?? null,
    github: config.forges.github ? githubWebOf(config.forges.github.baseUrl) : null,
  };
  // /amend needs a forge to change an MR on; without one it answers "not configured".
  const amend: AmendHandlerDeps | null =
    config.forges.gitlab || config.forges.github
      ? { changes, amendFor, hosts: forgeHosts, getChange: (id) => store.changes.get(id) }
      : null;
  const registry = buildCommandRegistry({
    whyReboot,
    diag,
    changes,
    amend,
    pipelines: {
      follower: pipelines.follower,
      forgeFor: pipelines.forgeFor,
      hosts: forgeHosts,
    },
    ...(options.commands ? { commands: options.commands } : {}),
  });
  registerCommands(slackApp.app, registry, pipeline, logger);
  registerChangeActions(slackApp.app, createChangeActionHandler(changes), logger);
  if (amend) registerAmendActions(slackApp.app, createAmendActionHandler(amend), logger);
  registerPipelineActions(
    slackApp.app,
    createPipelineActionHandler({
      config,
      follower: pipelines.follower,
      slack,
      isMember: (g, u) => groups.isMember(g, u),
      pipeline,
    }),
    logger,
  );

  const http = createHttpServer({
    logger,
    metrics,
    readiness,
    inFlight,
    slack: slackApp.httpReceiver,
    webhooks: pipelines.webhooks,
  });
  let port: number;
  try {
    port = await http.listen(config.http.port, options.host);
    await slackApp.start();
  } catch (err) {
    // Close the listener too (closeAll only ends connections): a failed start must leave nothing that keeps
    // the process alive, so `opsbot serve` exits with the error instead of hanging on an open port.
    await http.stopAccepting();
    http.closeAll();
    await store.close().catch(() => undefined);
    throw err;
  }
  // Changes whose replica died are resumed here; change threads behind their state are brought up to date.
  const resumer = lifecycle.startResumer({ intervalMs: config.changes.resumeIntervalMs });
  reconciler.start({ intervalMs: config.changes.slackSyncIntervalMs });
  reconciler.kick();
  pipelines.follower.start();

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ inFlight: inFlight.size, drainTimeoutMs: config.http.drainTimeoutMs }, 'opsbot stopping');
      const drained = inFlight.drain(config.http.drainTimeoutMs);
      await Promise.all([
        slackApp.stop().catch((err: unknown) => logger.warn({ err }, 'slack stop failed')),
        http.stopAccepting(),
      ]);
      if (!(await drained))
        logger.warn({ inFlight: inFlight.size }, 'drain deadline passed; abandoning work in flight');
      // Change work stops at its next step (its lease is released, so another replica resumes it at once).
      await resumer.stop();
      await lifecycle.stop();
      await reconciler.stop();
      await pipelines.follower.stop(); // background loops end before the store closes
      await audit.flush();
      http.closeAll();
      await store.close().catch((err: unknown) => logger.error({ err }, 'store close failed'));
      await whyReboot?.close?.().catch(() => undefined);
      await gce?.close().catch(() => undefined);
      await monitoring?.close().catch(() => undefined);
      if (options.signals) for (const s of SIGNALS) options.signals.off(s, onSignal);
      logger.info('opsbot stopped');
    })();
    return stopping;
  };
  const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
  const onSignal = (): void => {
    stop().then(
      () => options.onShutdown?.(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        options.onShutdown?.(1);
      },
    );
  };
  if (options.signals) for (const s of SIGNALS) options.signals.on(s, onSignal);
  // Logged once SIGTERM is handled: a supervisor that signals as soon as it reads this line gets a drain.
  logger.info({ port, mode: config.slack.mode, store: store.engine }, 'opsbot started');
  // Warm the bot identity and report a bad token early; /readyz keeps checking.
  readiness.check().then((r) => {
    if (!r.ready) logger.warn({ checks: r.checks }, 'opsbot is not ready yet');
  });

  return {
    port,
    config,
    store,
    metrics,
    logger,
    ensureFollow: pipelines.follower.ensureFollow,
    changes: lifecycle,
    stop,
  };
};

/**
 * The pipeline follower (forge events in, CI state in the store, the MR threads in Slack kept matching it) and
 * its webhook entry. It gets its own Slack client without retries: it honours 429 Retry-After itself (pausing
 * all its updates) and retries failed updates from the stored state, so a call never waits inside a lease.
 */
const buildPipelineFollower = (
  config: Config,
  d: {
    readonly store: Store;
    readonly pipeline: CommandPipeline;
    readonly metrics: Metrics;
    readonly logger: Logger;
    readonly scrub: (text: string) => string;
    readonly fetch?: typeof fetch;
    readonly onMergeRequestState?: OnMergeRequestState;
  },
): {
  follower: PipelineFollower;
  forgeFor: (kind: ForgeKind) => ForgePort | null;
  webhooks: ReturnType<typeof createWebhookHandler>;
} => {
  const logger = d.logger.child({ component: 'pipelines' });
  const forges: Partial<Record<ForgeKind, ForgePort | null>> = {};
  const forgeFor = (kind: ForgeKind): ForgePort | null => {
    if (forges[kind] === undefined) {
      try {
        forges[kind] = config.forges[kind] ? createForge(kind, config.forges, config.secrets) : null;
      } catch (err) {
        logger.warn({ err, forge: kind }, 'forge not usable for pipelines (token missing?); webhooks only');
        forges[kind] = null;
      }
    }
    return forges[kind] ?? null;
  };
  const secrets: Readonly<Record<ForgeKind, readonly string[]>> = {
    gitlab: [config.secrets.GITLAB_WEBHOOK_SECRET, config.secrets.GITLAB_WEBHOOK_SECRET_PREVIOUS].filter(
      (x): x is string => typeof x === 'string' && x !== '',
    ),
    github: [config.secrets.GITHUB_WEBHOOK_SECRET, config.secrets.GITHUB_WEBHOOK_SECRET_PREVIOUS].filter(
      (x): x is string => typeof x === 'string' && x !== '',
    ),
  };
  const parse = (source: ForgeKind, event: string, body: unknown): ParsedDelivery =>
    source === 'gitlab'
      ? parseGitlabWebhook(event, body, config.forges.gitlab ? { host: config.forges.gitlab.host } : {})
      : parseGithubWebhook(event, body);
  const p = config.pipelines;
  const owner = `opsbot-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const follower = createPipelineFollower({
    store: d.store,
    slack: createSlackClient({
      token: config.secrets.SLACK_BOT_TOKEN as string,
      apiUrl: config.slack.apiUrl,
      retries: 0,
      maxRetryAfterMs: 0,
      logger,
      ...(d.fetch ? { fetch: d.fetch } : {}),
      onUpstreamError: (service) => d.metrics.upstreamErrors.inc({ service }),
    }),
    render: pipelineRenderers,
    forgeFor,
    polls: (kind) => p.polling.mode === 'always' || (p.polling.mode === 'auto' && secrets[kind].length === 0),
    parse,
    timings: {
      coalesceMs: p.slack.coalesceMs,
      minUpdateIntervalMs: p.slack.minUpdateIntervalMs,
      resultDelayMs: p.slack.resultDelayMs,
      pollIntervalMs: p.polling.intervalMs,
      maxPollIntervalMs: p.polling.maxIntervalMs,
    },
    logLines: p.logLines,
    maxFailedJobs: p.maxFailedJobs,
    scrub: d.scrub,
    onMergeRequestState: d.onMergeRequestState,
    runDelivery: createDeliveryRunner(d.pipeline),
    metrics: d.metrics,
    logger,
    owner,
    keepDeliveriesMs: p.webhooks.keepDeliveriesHours * 3_600_000,
  });
  const webhooks = createWebhookHandler({
    secrets,
    maxBodyBytes: p.webhooks.maxBodyBytes,
    parse,
    deliveries: d.store.deliveries,
    receiver: follower,
    owner,
    metrics: d.metrics,
    logger,
  });
  return { follower, forgeFor, webhooks };
};

/**
 * The real /why-reboot playbook: the collector over the GCE adapters (created on first use, so starting
 * opsbot never touches Google credentials), the pure analysis, and the Block Kit renderers.
 */
const buildWhyRebootDeps = (config: Config, getAdapters: () => GceAdapters): WhyRebootDeps => {
  return {
    now: () => new Date(),
    defaultWindow: config.google.defaultWindow,
    collectEvidence: (request) => {
      const { compute, logging } = getAdapters();
      return collectEvidence(
        {
          compute,
          logging,
          now: () => new Date(),
          timeouts: config.google.timeouts,
          journaldLog: config.google.journaldLog,
        },
        {
          vm: request.vm,
          project: request.project ?? undefined,
          zone: request.zone ?? undefined,
          window: request.window,
          defaultProject: config.google.defaultProject,
          projects: config.google.projects,
        },
      );
    },
    analyze: (evidence) => analyze(evidence, { now: new Date() }),
    buildProgress: (request) => buildWhyRebootProgressBlocks(request.vm),
    buildReport: (report) => buildWhyRebootBlocks(report),
  };
};

/**
 * The real /diag playbook: the why-reboot collector and Cloud Monitoring over adapters created on first use,
 * the USE analysis, and the chart (its libraries also load on first use).
 */
const buildDiagDeps = (
  config: Config,
  getAdapters: () => GceAdapters,
  getMonitoring: () => MonitoringAdapter,
): DiagDeps => ({
  now: () => new Date(),
  defaultWindow: config.diag.defaultWindow,
  around: config.diag.around,
  investigate: async (request) => {
    const { investigateDiag } = await import('./playbooks/diag/investigate.js');
    const { compute, logging } = getAdapters();
    return investigateDiag(
      { compute, logging, monitoring: getMonitoring() },
      {
        defaultProject: config.google.defaultProject,
        projects: config.google.projects,
        timeouts: config.google.timeouts,
        journaldLog: config.google.journaldLog,
        metricsTimeoutMs: config.diag.metricsTimeoutMs,
        thresholds: config.diag.thresholds,
        sustainMinutes: config.diag.sustainMinutes,
      },
      request,
      () => new Date(),
    );
  },
  renderPng: async (report) => {
    const { renderDiagPng } = await import('./playbooks/diag/render-chart.js');
    const { diagTitle } = await import('./playbooks/diag/render-text.js');
    return renderDiagPng(report.chart, diagTitle(report));
  },
});

/**
 * The change lifecycle (/versionlock, /tf-import, their buttons, forge events): forges from config + secrets,
 * created on the first change so a config without forges starts (and fails only the command that needs one);
 * the Slack reconciler that keeps change threads in step with the store.
 */
const buildChanges = (
  config: Config,
  d: {
    readonly store: Store;
    readonly slack: ChangeHandlerDeps['slack'];
    readonly pipeline: ChangeHandlerDeps['pipeline'];
    readonly logger: Logger;
    readonly isMember: (groupId: string, userId: string) => Promise<boolean>;
    readonly compute: () => ComputePort;
    readonly workspaceUrl: () => string | null;
    readonly follow: ((f: FollowRequest) => Promise<void>) | undefined;
  },
): {
  handlers: ChangeHandlerDeps;
  amendFor: (kind: ForgeKind) => AmendDeps;
  lifecycle: ChangeLifecycle;
  reconciler: ChangeSlackReconciler;
} => {
  let forges: Partial<Record<ForgeKind, ForgePort>> | null = null;
  const forgeFor = (kind: ForgeKind): ForgePort => {
    forges ??= createForges(config.forges, config.secrets);
    const forge = forges[kind];
    if (!forge) throw new AppError('config_invalid', `forges.${kind} is not configured in this opsbot.`);
    return forge;
  };
  const logger = d.logger.child({ component: 'change' });
  // /amend changes an MR's branch with real git (a temporary clone per preview and per apply).
  const amendFor = (kind: ForgeKind): AmendDeps => ({
    forge: forgeFor(kind),
    changeBranch,
    identity: config.changes.gitAuthor,
  });
  const replicaId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const flow = {
    forgeFor,
    targets: config.targets,
    approvals: config.access.approvals,
    commandRules: config.access.commands,
    isMember: d.isMember,
    compute: d.compute,
    google: { defaultProject: config.google.defaultProject, projects: config.google.projects },
  };
  const reconciler = createChangeSlackReconciler({
    store: d.store,
    slack: d.slack,
    logger,
    replicaId,
    approvers: (command) => describeApprovers(flow, command),
    leaseMs: config.changes.leaseMs,
  });
  const lifecycle = createChangeLifecycle({
    store: d.store,
    forgeFor,
    replan: (plan) =>
      replanStoredPlan(
        {
          forgeFor,
          versionlockTargets: config.targets.versionlock,
          terraformTargets: config.targets.terraform,
          compute: d.compute,
        },
        plan,
      ),
    access: flow,
    logger,
    replicaId,
    leaseMs: config.changes.leaseMs,
    maxAttempts: config.changes.maxApplyAttempts,
    onChanged: () => reconciler.kick(),
    follow: d.follow,
    amend: amendFor,
  });
  return {
    amendFor,
    lifecycle,
    reconciler,
    handlers: {
      flow,
      lifecycle,
      slack: d.slack,
      pipeline: d.pipeline,
      logger,
      workspaceUrl: d.workspaceUrl,
    },
  };
};
