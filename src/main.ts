import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { DestinationStream } from 'pino';
import { type Config, loadConfig } from './core/config.js';
import { AppError } from './core/errors.js';
import { buildLogger, type Logger, SecretSanitizer } from './core/logger.js';
import { onceUntilRejected } from './core/once.js';
import { type Env, secretValues } from './core/secrets.js';
import {
  type AmendHandlerDeps,
  createAmendActionHandler,
  createAmendFormHandler,
  registerAmendActions,
  registerAmendForm,
} from './handlers/amend.js';
import { pipelineRenderers } from './handlers/blocks/pipeline.js';
import { buildWhyRebootBlocks, buildWhyRebootProgressBlocks } from './handlers/blocks/why-reboot.js';
import {
  type ChangeHandlerDeps,
  createChangeActionHandler,
  registerChangeActions,
} from './handlers/change-actions.js';
import { describeApprovers } from './handlers/change-approvers.js';
import { type ChangeSlackReconciler, createChangeSlackReconciler } from './handlers/change-slack.js';
import type { DiagDeps } from './handlers/diag.js';
import {
  type CommandPipeline,
  type CommandSpec,
  createAuditWriter,
  createCommandPipeline,
} from './handlers/pipeline.js';
import { createPipelineActionHandler, registerPipelineActions } from './handlers/pipeline-actions.js';
import { createRebootsActionHandler, type RebootsDeps, registerRebootsActions } from './handlers/reboots.js';
import { registerCommands } from './handlers/register.js';
import { buildCommandRegistry, type HandlerDeps } from './handlers/registry.js';
import { buildWatchStatusMessage, createWatchPoster } from './handlers/watch.js';
import { createDeliveryRunner, createWebhookHandler } from './handlers/webhooks.js';
import type { WhyRebootDeps } from './handlers/why-reboot.js';
import { createForge, createForgeCache, warmForges } from './integrations/forge/create.js';
import type { ParsedDelivery } from './integrations/forge/events.js';
import { parseGithubWebhook } from './integrations/forge/github-events.js';
import { parseGitlabWebhook } from './integrations/forge/gitlab-events.js';
import type { ForgeKind, ForgePort } from './integrations/forge/port.js';
import { createGceAdapters, type GceAdapters } from './integrations/gce/adapter.js';
import type { FleetPort } from './integrations/gce/fleet-port.js';
import { createFleetRestClient } from './integrations/gce/fleet-rest.js';
import type { MonitoringAdapter } from './integrations/gce/monitoring.js';
import type { ComputePort } from './integrations/gce/port.js';
import { gceAdapterAuth } from './integrations/gce/token.js';
import { warmGoogleModules } from './integrations/gce/warm.js';
import { prepareBranchChange, warmGitWorkspace } from './integrations/git/workspace.js';
import { createSlackApp } from './integrations/slack/app.js';
import { createSlackClient } from './integrations/slack/client.js';
import type { SlackIdentity } from './integrations/slack/port.js';
import { createUserGroupResolver } from './integrations/slack/usergroups.js';
import type { AmendDeps } from './playbooks/amend/amend.js';
import { listApprovers } from './playbooks/change/flow.js';
import {
  type ChangeLifecycle,
  createChangeLifecycle,
  type FollowRequest,
} from './playbooks/change/lifecycle.js';
import { replanStoredPlan } from './playbooks/change/plan-requests.js';
import { collectFleetReboots } from './playbooks/fleet/collect.js';
import { createWatcher, type WatchSettings } from './playbooks/fleet/watch.js';
import {
  createPipelineFollower,
  type EnsureFollow,
  type OnMergeRequestState,
  type PipelineFollower,
} from './playbooks/pipelines/follower.js';
import { githubWebOf } from './playbooks/pipelines/mr-ref.js';
import {
  type InstanceMemory,
  rememberingListings,
  rememberRestarts,
} from './playbooks/why-reboot/instance-memory.js';
import { investigateWhyReboot } from './playbooks/why-reboot/investigate.js';
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
  // Only the configured forges' SDKs load (and git's, for /amend), while the store opens: a forge's first
  // call can come from a form Slack drops after 3 s. An unconfigured one is never loaded.
  const forgesWarm =
    config.forges.gitlab || config.forges.github
      ? Promise.all([warmForges(config.forges), warmGitWorkspace()])
      : Promise.resolve();

  const store = await openStore({
    databaseUrl: config.secrets.DATABASE_URL,
    dataDir: config.store.dataDir,
    queryTimeoutMs: config.store.queryTimeoutMs,
    logger: logger.child({ component: 'store' }),
  });

  const botToken = config.secrets.SLACK_BOT_TOKEN as string; // required by loadConfig(requireSlack)
  const slack = createSlackClient({
    token: botToken,
    apiUrl: config.slack.apiUrl,
    retries: config.slack.postRetries,
    maxRetryAfterMs: config.slack.maxRetryAfterMs,
    logger,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    onUpstreamError: (service) => metrics.upstreamErrors.inc({ service }),
  });

  let identity: SlackIdentity | null = null;
  // The Google client libraries load in the background after listen (see warmGoogle below); until they are
  // in, /readyz says so, so traffic routed by readiness never waits on a multi-second module load.
  const google: { warm: Promise<void>; done: boolean } = { warm: Promise.resolve(), done: true };
  const readiness = createReadiness(
    {
      // Not cached for 30 s as auth.test is: a database gone, or back, shows at the next probe.
      store: { run: () => store.ping(), okTtlMs: 1_000, failTtlMs: 1_000 },
      slack: async () => {
        identity = await slack.authTest();
      },
      google: () =>
        google.done
          ? Promise.resolve()
          : Promise.race([
              google.warm,
              new Promise<never>((_, reject) =>
                setTimeout(() => reject(new Error('Google client libraries still loading')), 1_000).unref(),
              ),
            ]),
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
      ...gceAdapterAuth(config.secrets), // GOOGLE_OAUTH_ACCESS_TOKEN, else ADC
    });
    return gce;
  };
  const googleReady = (): Promise<void> => google.warm;
  const whyReboot =
    options.whyReboot !== undefined
      ? options.whyReboot
      : buildWhyRebootDeps(config, getGce, googleReady, store.instances);
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
  // The Monitoring client and google-auth-library load with it (warmGoogle, or the first /diag), never at start.
  let monitoring: MonitoringAdapter | null = null; // once built, for the shutdown to close
  // Tried again by the next command when it failed to build, as a client that failed to build always was.
  const getMonitoring = onceUntilRejected(async (): Promise<MonitoringAdapter> => {
    const [{ createMonitoringAdapter }, { gceAuthOptions }] = await Promise.all([
      import('./integrations/gce/monitoring.js'),
      import('./integrations/gce/auth.js'),
    ]);
    monitoring = createMonitoringAdapter({
      apiEndpoint: config.google.endpoints.monitoring,
      ...gceAuthOptions(config.secrets),
    });
    return monitoring;
  });
  const diag =
    options.diag !== undefined
      ? options.diag
      : buildDiagDeps(config, getGce, getMonitoring, googleReady, store.instances);
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
  const reboots = buildRebootsDeps(config, store.instances);
  const watchSettings = resolveWatchSettings(config);
  const watcher = watchSettings
    ? createWatcher({
        fleet: rememberingListings(
          createFleetRestClient({
            loggingEndpoint: config.google.endpoints.logging,
            computeEndpoint: config.google.endpoints.compute,
            timeoutMs: config.google.timeouts.auditLogsMs,
            ...gceAdapterAuth(config.secrets), // GOOGLE_OAUTH_ACCESS_TOKEN, else ADC (loaded on first call)
          }),
          store.instances,
          () => new Date(now()),
        ),
        repo: store.watch,
        locks: store.locks,
        poster: createWatchPoster(slack),
        settings: watchSettings,
        holder: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
        now: () => new Date(now()),
        logger: logger.child({ component: 'watch' }),
        memory: store.instances,
      })
    : null;
  const registry = buildCommandRegistry({
    whyReboot,
    diag,
    reboots,
    watchStatus: async () =>
      buildWatchStatusMessage(
        watchSettings,
        await store.watch.getState(),
        await store.watch.countGroups(),
        new Date(now()),
      ),
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
  if (amend) {
    registerAmendActions(slackApp.app, createAmendActionHandler(amend), logger);
    const typed = (name: string): CommandSpec<unknown> | undefined =>
      registry.find((spec) => spec.name === name);
    const versionlock = typed('versionlock');
    const tfImport = typed('tf-import');
    registerAmendForm(
      slackApp.app,
      createAmendFormHandler(amend, {
        ...(versionlock ? { versionlock } : {}),
        ...(tfImport ? { 'tf-import': tfImport } : {}),
      }),
      logger,
    );
  }
  registerRebootsActions(
    slackApp.app,
    createRebootsActionHandler({
      config,
      slack,
      isMember: (g, u) => groups.isMember(g, u),
      pipeline,
      whyReboot,
    }),
    logger,
  );
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
    await forgesWarm; // never rejects
    port = await http.listen(config.http.port, options.host);
    // Google clients load now, between listen and taking Slack traffic: the modules a step at a time, then the
    // Monitoring client, whose construction parses its API description in one step. Loaded on the first
    // command instead, that held every other ack for seconds (Slack gives up at 3 s); here /readyz says
    // "google: loading" until it is done and Socket Mode is not connected yet. Only when a Google playbook is
    // live and a project is configured.
    const googleConfigured = Boolean(config.google.defaultProject) || config.google.projects.length > 0;
    if ((options.whyReboot === undefined || options.diag === undefined) && googleConfigured) {
      google.done = false;
      google.warm = warmGoogle(
        { getGce, getMonitoring: options.diag === undefined ? getMonitoring : null },
        logger,
      ).finally(() => {
        google.done = true;
      });
      await google.warm;
    }
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
  watcher?.start();

  let stopping: Promise<void> | null = null;
  /** Waits for `work` at most `ms`; a stop step that hangs must not hold the exit past the drain budget. */
  const atMost = async (what: string, ms: number, work: Promise<unknown>): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), ms);
    });
    const r = await Promise.race([work.then(() => 'done' as const), late]).catch((err: unknown) => {
      logger.warn({ err, step: what }, 'shutdown step failed');
      return 'done' as const;
    });
    clearTimeout(timer);
    if (r === 'late')
      logger.warn({ step: what, waitedMs: ms }, 'shutdown step still running; not waiting for it');
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ inFlight: inFlight.size, drainTimeoutMs: config.http.drainTimeoutMs }, 'opsbot stopping');
      const drained = inFlight.drain(config.http.drainTimeoutMs);
      await Promise.all([
        slackApp.stop().catch((err: unknown) => logger.warn({ err }, 'slack stop failed')),
        http.stopAccepting(),
      ]);
      if (!(await drained)) {
        // The users whose work is cut off hear it now (with the ref to quote), not never; their audit rows are
        // queued before the store closes, and whatever that work does later is neither answered nor audited.
        const cut = await pipeline.interruptAll();
        logger.warn(
          { inFlight: inFlight.size, interrupted: cut },
          'drain deadline passed; work in flight interrupted',
        );
      }
      // Each step below is bounded: the whole stop stays within drainTimeoutMs + 5 s even if one hangs.
      // Change work stops at its next step (its lease is released, so another replica resumes it at once).
      await atMost(
        'background loops',
        2_500,
        (async () => {
          await resumer.stop();
          await lifecycle.stop();
          await reconciler.stop();
          await pipelines.follower.stop(); // background loops end before the store closes
          await watcher?.stop();
        })(),
      );
      await atMost('audit flush', 1_000, audit.flush());
      http.closeAll();
      await atMost(
        'google clients',
        500,
        Promise.all([
          whyReboot?.close?.().catch(() => undefined),
          gce?.close().catch(() => undefined),
          monitoring?.close().catch(() => undefined),
        ]),
      );
      // The store closes last: every audit row (the interrupted ones included) was written through it.
      await store.close().catch((err: unknown) => logger.error({ err }, 'store close failed'));
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
 * Loads the Google client libraries a module at a time (yielding between modules), then builds the adapters
 * (the Monitoring client parses its API description once, here) with a turn of the event loop between each. Never throws: a failure shows again, with its real error, on the command that needs the client.
 */
const warmGoogle = async (
  clients: {
    readonly getGce: () => GceAdapters;
    readonly getMonitoring: (() => Promise<MonitoringAdapter>) | null;
  },
  logger: Logger,
): Promise<void> => {
  const log = logger.child({ component: 'google' });
  const started = performance.now();
  const step = () => new Promise<void>((resolve) => setImmediate(resolve));
  await warmGoogleModules({
    onError: (err) => log.warn({ err }, 'a Google client module could not be preloaded'),
  });
  for (const build of [clients.getGce, clients.getMonitoring]) {
    if (!build) continue;
    await step();
    try {
      await build();
    } catch (err) {
      log.warn({ err }, 'a Google client could not be built ahead of use');
    }
  }
  log.info({ ms: Math.round(performance.now() - started) }, 'google clients ready');
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
    // auto: on a schedule without webhooks; with them, a safety net for a lost delivery (GitHub never
    // redelivers on its own, GitLab disables a failing hook).
    polls: (kind) =>
      p.polling.mode === 'never'
        ? 'never'
        : p.polling.mode === 'always' || secrets[kind].length === 0
          ? 'schedule'
          : 'safety-net',
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
    bodyTimeoutMs: p.webhooks.bodyTimeoutMs,
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
const buildWhyRebootDeps = (
  config: Config,
  getAdapters: () => GceAdapters,
  ready: () => Promise<void>,
  memory: InstanceMemory,
): WhyRebootDeps => {
  return {
    now: () => new Date(),
    defaultWindow: config.google.defaultWindow,
    investigate: async (request) => {
      await ready(); // a command during the warm-up waits for it rather than loading everything in one go
      const { compute, logging } = getAdapters();
      return investigateWhyReboot(
        { compute, logging, memory },
        {
          defaultProject: config.google.defaultProject,
          projects: config.google.projects,
          timeouts: config.google.timeouts,
          journaldLog: config.google.journaldLog,
        },
        request,
        () => new Date(),
      );
    },
    buildProgress: (request) => buildWhyRebootProgressBlocks(request.vm),
    buildReport: (report) => buildWhyRebootBlocks(report),
  };
};

/** The watch section with its defaults resolved (projects default to the Google projects), or null. */
const resolveWatchSettings = (config: Config): WatchSettings | null => {
  const w = config.watch;
  if (!w) return null;
  return {
    ...w,
    projects:
      w.projects.length > 0
        ? w.projects
        : [
            ...new Set([
              ...(config.google.defaultProject ? [config.google.defaultProject] : []),
              ...config.google.projects,
            ]),
          ],
  };
};

/**
 * The real /reboots playbook: one audit-log query and one instance listing per project over plain REST
 * (the fleet client, created on first use like the other Google clients).
 */
const buildRebootsDeps = (config: Config, memory: InstanceMemory): RebootsDeps => {
  let port: FleetPort | null = null;
  return {
    now: () => new Date(),
    defaultWindow: '24h',
    projects: [
      ...new Set([
        ...(config.google.defaultProject ? [config.google.defaultProject] : []),
        ...config.google.projects,
      ]),
    ],
    collect: async (request, signal) => {
      port ??= rememberingListings(
        createFleetRestClient({
          loggingEndpoint: config.google.endpoints.logging,
          computeEndpoint: config.google.endpoints.compute,
          timeoutMs: config.google.timeouts.auditLogsMs,
          ...gceAdapterAuth(config.secrets), // GOOGLE_OAUTH_ACCESS_TOKEN, else ADC (loaded on first call)
        }),
        memory,
        () => new Date(),
      );
      const report = await collectFleetReboots(port, request, signal);
      rememberRestarts(
        memory,
        report.groups.flatMap((g) => g.restarts),
      );
      return report;
    },
  };
};

/**
 * The real /diag playbook: the why-reboot collector and Cloud Monitoring over adapters created on first use,
 * the USE analysis, and the chart (its libraries also load on first use).
 */
const buildDiagDeps = (
  config: Config,
  getAdapters: () => GceAdapters,
  getMonitoring: () => Promise<MonitoringAdapter>,
  ready: () => Promise<void>,
  memory: InstanceMemory,
): DiagDeps => ({
  now: () => new Date(),
  defaultWindow: config.diag.defaultWindow,
  around: config.diag.around,
  investigate: async (request) => {
    await ready();
    const { investigateDiag } = await import('./playbooks/diag/investigate.js');
    const { compute, logging } = getAdapters();
    const monitoring = await getMonitoring();
    return investigateDiag(
      { compute, logging, monitoring, memory },
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
  // Only the forge a change uses is built: GitHub configured without a token must not fail GitLab changes.
  const forgeCache = createForgeCache(config.forges, config.secrets);
  const forgeFor = (kind: ForgeKind): ForgePort => {
    if (!config.forges[kind]) {
      throw new AppError('config_invalid', `forges.${kind} is not configured in this opsbot.`);
    }
    return forgeCache(kind);
  };
  const logger = d.logger.child({ component: 'change' });
  // /amend changes an MR's branch with real git (a temporary clone per preview and per apply: an approval
  // may come to another replica, much later).
  const amendFor = (kind: ForgeKind): AmendDeps => ({
    forge: forgeFor(kind),
    prepareBranchChange,
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
    approvers: (command) => describeApprovers(listApprovers(flow, command)),
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
    coAuthorOf: (slackUserId) => config.changes.coAuthors[slackUserId],
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
