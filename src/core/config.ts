import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { AppError } from './errors.js';
import { type Env, readSecrets, type Secrets } from './secrets.js';
import { DEFAULT_DATA_DIR, DEFAULT_QUERY_TIMEOUT_MS } from './store-settings.js';

/**
 * The configuration file's schema. The same definition validates the YAML at startup and generates
 * `config/opsbot.schema.json` (`npm run schema`) for editor completion. Secrets never live here: they come
 * from the environment (see secrets.ts).
 */

const name = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/,
    'a lowercase name: letters, digits, ".", "_" or "-", at most 63 chars',
  );

/** A path inside a repository: relative, no `..`, no backslashes, no control characters. */
export const repoPath = z
  .string()
  .min(1)
  .refine(
    (p) =>
      !p.startsWith('/') &&
      !p.includes('\\') &&
      !p.split('/').some((seg) => seg === '..' || seg === '') &&
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse them
      !/[\u0000-\u001f\u007f]/.test(p),
    'a relative path inside the repository, without "..", empty segments or control characters',
  );

const repoSlug = z
  .string()
  .regex(
    /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/,
    'a repository path such as "infra/ansible" or "group/sub/repo"',
  )
  .refine((s) => !s.split('/').some((seg) => seg === '.' || seg === '..'), 'no "." or ".." segments');

const branch = z
  .string()
  .min(1)
  .regex(/^(?!\/|.*\/\/|.*\.\.|.*@\{|.*\.lock$|.*\/$)[A-Za-z0-9._/-]+$/, 'a valid git branch name');

const slackId = z.string().regex(/^[A-Z0-9]{2,}$/, 'a Slack id such as U012ABCDEF, S012ABCDEF or C012ABCDEF');

const accessRule = z
  .object({
    users: z
      .array(slackId)
      .default([])
      .describe('Slack user ids (U...) allowed; empty with no groups = anyone'),
    groups: z.array(slackId).default([]).describe('Slack user group ids (S...) whose members are allowed'),
    channels: z
      .array(slackId)
      .default([])
      .describe('Channel ids (C.../G...) where the command may run; empty = any'),
  })
  .strict();

const approvalRule = z
  .object({
    users: z
      .array(slackId)
      .default([])
      .describe('who may approve; empty with no groups = anyone allowed to run it'),
    groups: z.array(slackId).default([]),
    requireSecondPerson: z.boolean().default(true).describe('the requester cannot approve their own change'),
  })
  .strict();

export const COMMAND_NAMES = [
  'why-reboot',
  'diag',
  'versionlock',
  'tf-import',
  'amend',
  'pipeline',
  'reboots',
  'opsbot',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

const forgeKind = z.enum(['gitlab', 'github']);

const versionlockTarget = z
  .object({
    name,
    forge: forgeKind,
    repo: repoSlug,
    baseBranch: branch.default('main'),
    path: repoPath.describe('the versionlock file inside the repository'),
    format: z.enum(['yum', 'dnf', 'ansible-vars']),
    key: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/)
      .optional()
      .describe('ansible-vars only: dotted key path of the list, e.g. versionlock_packages'),
    releases: z
      .record(z.string(), z.string())
      .default({})
      .describe('per-package default release (e.g. elasticsearch: "1"), needed by yum targets'),
    arch: z.string().default('*').describe('architecture written in lock lines ("*" = any)'),
  })
  .strict();

const terraformTarget = z
  .object({
    name,
    forge: forgeKind,
    repo: repoSlug,
    baseBranch: branch.default('main'),
    dir: z.union([repoPath, z.literal('.')]).describe('the Terraform root module (stack) directory'),
    importsFile: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\.tf$/)
      .default('imports.tf'),
    resourcesFile: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+\.tf$/)
      .default('imported.tf')
      .describe('where /tf-import vm writes the generated resource block'),
  })
  .strict();

const url = z.url();

/** Buttons whose clicks have their own access rule (`access.actions`). */
export const ACTION_NAMES = ['retry-pipeline'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

const PIPELINE_DEFAULTS = {
  webhooks: { maxBodyBytes: 5 * 1024 * 1024, bodyTimeoutMs: 10_000, keepDeliveriesHours: 72 },
  polling: { mode: 'auto' as const, intervalMs: 15_000, maxIntervalMs: 300_000 },
  slack: { coalesceMs: 1_500, minUpdateIntervalMs: 3_000, resultDelayMs: 2_000 },
  logLines: 30,
  maxFailedJobs: 5,
};

const pipelinesSection = z
  .object({
    webhooks: z
      .object({
        maxBodyBytes: z
          .number()
          .int()
          .min(1024)
          .default(PIPELINE_DEFAULTS.webhooks.maxBodyBytes)
          .describe('larger deliveries are refused with 413'),
        bodyTimeoutMs: z
          .number()
          .int()
          .min(100)
          .default(PIPELINE_DEFAULTS.webhooks.bodyTimeoutMs)
          .describe(
            'a delivery whose body has not fully arrived this long after its headers is answered 408 and its connection closed (forges send at once and give up after 10 s)',
          ),
        keepDeliveriesHours: z
          .number()
          .int()
          .positive()
          .default(PIPELINE_DEFAULTS.webhooks.keepDeliveriesHours)
          .describe('how long a delivery id is remembered to drop redeliveries'),
      })
      .strict()
      .default(PIPELINE_DEFAULTS.webhooks),
    polling: z
      .object({
        mode: z
          .enum(['auto', 'always', 'never'])
          .default('auto')
          .describe(
            'auto: poll a forge whose webhook secret is not set (no webhooks), and the others every maxIntervalMs as a safety net; always; never',
          ),
        intervalMs: z.number().int().min(1_000).default(PIPELINE_DEFAULTS.polling.intervalMs),
        maxIntervalMs: z
          .number()
          .int()
          .min(1_000)
          .default(PIPELINE_DEFAULTS.polling.maxIntervalMs)
          .describe('the interval doubles while nothing changes, up to this'),
      })
      .strict()
      .default(PIPELINE_DEFAULTS.polling),
    slack: z
      .object({
        coalesceMs: z
          .number()
          .int()
          .min(0)
          .default(PIPELINE_DEFAULTS.slack.coalesceMs)
          .describe('a burst of events is shown this long after its first one, as one update'),
        minUpdateIntervalMs: z
          .number()
          .int()
          .min(0)
          .default(PIPELINE_DEFAULTS.slack.minUpdateIntervalMs)
          .describe('at least this long between two updates of one thread'),
        resultDelayMs: z
          .number()
          .int()
          .min(0)
          .default(PIPELINE_DEFAULTS.slack.resultDelayMs)
          .describe('the result reply waits until the pipeline has been done this long (late runs join it)'),
      })
      .strict()
      .default(PIPELINE_DEFAULTS.slack),
    logLines: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(PIPELINE_DEFAULTS.logLines)
      .describe('lines of each failed job log shown'),
    maxFailedJobs: z.number().int().min(1).max(10).default(PIPELINE_DEFAULTS.maxFailedJobs),
  })
  .strict()
  .default(PIPELINE_DEFAULTS);
/** A level boundary pair: a value at or above `warn` (held for sustainMinutes) is warn, at or above `critical` critical. */
const levels = (warn: number, critical: number, what: string) =>
  z
    .object({
      warn: z.number().nonnegative().default(warn),
      critical: z.number().nonnegative().default(critical),
    })
    .strict()
    .default({ warn, critical })
    .refine((t) => t.critical >= t.warn, 'critical must be at least warn')
    .describe(what);

export const DIAG_THRESHOLD_DEFAULTS = {
  cpuUtilizationPct: { warn: 80, critical: 95 },
  cpuStealPct: { warn: 10, critical: 25 },
  loadPerCpu: { warn: 1.5, critical: 3 },
  blockedProcesses: { warn: 4, critical: 16 },
  memoryUsedPct: { warn: 90, critical: 97 },
  swapUsedPct: { warn: 50, critical: 90 },
  diskBusyPct: { warn: 80, critical: 95 },
  diskQueue: { warn: 8, critical: 32 },
  filesystemUsedPct: { warn: 85, critical: 95 },
  networkEgressPct: { warn: 70, critical: 90 },
  interfaceErrorsPerMin: { warn: 1, critical: 100 },
} as const;

const d = DIAG_THRESHOLD_DEFAULTS;
const diagThresholds = z
  .object({
    cpuUtilizationPct: levels(
      d.cpuUtilizationPct.warn,
      d.cpuUtilizationPct.critical,
      'CPU busy, percent of all vCPUs',
    ),
    cpuStealPct: levels(
      d.cpuStealPct.warn,
      d.cpuStealPct.critical,
      'CPU steal (time the hypervisor gave others), percent',
    ),
    loadPerCpu: levels(
      d.loadPerCpu.warn,
      d.loadPerCpu.critical,
      '1-minute load average per vCPU (run queue)',
    ),
    blockedProcesses: levels(
      d.blockedProcesses.warn,
      d.blockedProcesses.critical,
      'processes in uninterruptible sleep (D)',
    ),
    memoryUsedPct: levels(d.memoryUsedPct.warn, d.memoryUsedPct.critical, 'memory used (not cache), percent'),
    swapUsedPct: levels(d.swapUsedPct.warn, d.swapUsedPct.critical, 'swap used, percent'),
    diskBusyPct: levels(
      d.diskBusyPct.warn,
      d.diskBusyPct.critical,
      'time a disk was busy (disk/io_time), percent',
    ),
    diskQueue: levels(
      d.diskQueue.warn,
      d.diskQueue.critical,
      'operations queued on a disk (disk/pending_operations)',
    ),
    filesystemUsedPct: levels(
      d.filesystemUsedPct.warn,
      d.filesystemUsedPct.critical,
      'filesystem space used, percent',
    ),
    networkEgressPct: levels(
      d.networkEgressPct.warn,
      d.networkEgressPct.critical,
      "egress, percent of the machine type's estimated bandwidth cap",
    ),
    interfaceErrorsPerMin: levels(
      d.interfaceErrorsPerMin.warn,
      d.interfaceErrorsPerMin.critical,
      'network interface errors per minute',
    ),
  })
  .strict();

export type DiagThresholds = z.infer<typeof diagThresholds>;

export const WATCH_EVENTS = [
  'host-error',
  'preemption',
  'host-maintenance',
  'automatic-restart',
  'guest-shutdown',
  'mig-recreate',
] as const;
export type WatchEvent = (typeof WATCH_EVENTS)[number];

const watchSection = z
  .object({
    channel: slackId.describe('the channel the watch posts to (invite the bot there)'),
    projects: z
      .array(z.string())
      .default([])
      .describe(
        'projects whose audit logs are followed (default: google.defaultProject and google.projects)',
      ),
    events: z
      .array(z.enum(WATCH_EVENTS))
      .min(1)
      .default([...WATCH_EVENTS])
      .describe('platform events posted (default: all)'),
    labels: z
      .record(z.string(), z.string())
      .default({})
      .describe('only VMs with all these labels (read from one instance listing per project and poll)'),
    namePattern: z
      .string()
      .optional()
      .describe('only VMs whose name matches this regular expression, e.g. "^(web|db)-"'),
    periodMs: z.number().int().min(200).default(60_000).describe('how often the audit logs are polled'),
    lookbackMs: z
      .number()
      .int()
      .min(1000)
      .default(3_600_000)
      .describe('on the very first poll (no stored cursor), how far back to start'),
    settleMs: z
      .number()
      .int()
      .min(0)
      .default(600_000)
      .describe('each poll re-reads this far before the cursor: audit entries can arrive late'),
    groupGapMs: z
      .number()
      .int()
      .min(1000)
      .default(300_000)
      .describe('restarts of one cause in one zone this close together form one group (one message)'),
    leaseMs: z
      .number()
      .int()
      .min(500)
      .default(30_000)
      .describe('one replica polls at a time; another takes over this long after it stops renewing'),
  })
  .strict();

export const configSchema = z
  .object({
    slack: z
      .object({
        mode: z
          .enum(['socket', 'http'])
          .default('http')
          .describe('socket: SLACK_APP_TOKEN; http: SLACK_SIGNING_SECRET'),
        apiUrl: url
          .default('https://slack.com/api/')
          .describe('Slack Web API base URL (GovSlack: https://slack-gov.com/api/); SLACK_API_URL overrides'),
        postRetries: z.number().int().min(0).max(10).default(3),
        maxRetryAfterMs: z
          .number()
          .int()
          .min(0)
          .default(30_000)
          .describe(
            'the longest 429 Retry-After a Web API call waits out before retrying; a longer one fails the call at once (background work such as change threads then waits itself)',
          ),
      })
      .strict()
      .default({ mode: 'http', apiUrl: 'https://slack.com/api/', postRetries: 3, maxRetryAfterMs: 30_000 }),
    http: z
      .object({
        port: z.number().int().min(0).max(65535).default(3000).describe('PORT overrides'),
        drainTimeoutMs: z.number().int().min(0).default(10_000),
      })
      .strict()
      .default({ port: 3000, drainTimeoutMs: 10_000 }),
    google: z
      .object({
        defaultProject: z.string().optional(),
        projects: z.array(z.string()).default([]).describe('projects searched when a VM name has no project'),
        endpoints: z
          .object({
            logging: url.optional().describe('Cloud Logging API base URL (Private Service Connect, tests)'),
            compute: url.optional().describe('Compute Engine API base URL'),
            monitoring: url
              .optional()
              .describe('Cloud Monitoring API base URL (a bare origin: Private Service Connect, tests)'),
          })
          .strict()
          .default({}),
        timeouts: z
          .object({
            instanceMs: z.number().int().positive().default(10_000),
            auditLogsMs: z.number().int().positive().default(20_000),
            guestLogsMs: z.number().int().positive().default(20_000),
            serialMs: z.number().int().positive().default(10_000),
          })
          .strict()
          .default({ instanceMs: 10_000, auditLogsMs: 20_000, guestLogsMs: 20_000, serialMs: 10_000 }),
        journaldLog: z
          .string()
          .optional()
          .describe('log id of a journald receiver, if the Ops Agent ships one'),
        defaultWindow: z.string().default('7d'),
      })
      .strict()
      .default({
        projects: [],
        endpoints: {},
        timeouts: { instanceMs: 10_000, auditLogsMs: 20_000, guestLogsMs: 20_000, serialMs: 10_000 },
        defaultWindow: '7d',
      }),
    diag: z
      .object({
        defaultWindow: z.string().default('1h').describe('/diag looks back this far without --since or --at'),
        around: z.string().default('30m').describe('--at T looks from T minus this to T plus this'),
        metricsTimeoutMs: z
          .number()
          .int()
          .positive()
          .default(20_000)
          .describe('deadline of the Cloud Monitoring reads'),
        sustainMinutes: z
          .number()
          .int()
          .min(1)
          .max(60)
          .default(5)
          .describe('a level counts only when held this many minutes in a row (a spike is not a finding)'),
        thresholds: diagThresholds.default(DIAG_THRESHOLD_DEFAULTS),
      })
      .strict()
      .default({
        defaultWindow: '1h',
        around: '30m',
        metricsTimeoutMs: 20_000,
        sustainMinutes: 5,
        thresholds: DIAG_THRESHOLD_DEFAULTS,
      }),
    forges: z
      .object({
        gitlab: z
          .object({ host: url.default('https://gitlab.com') })
          .strict()
          .optional(),
        github: z
          .object({
            baseUrl: url.default('https://api.github.com'),
            appId: z.number().int().positive().optional(),
            installationId: z.number().int().positive().optional(),
          })
          .strict()
          .optional(),
        timeoutMs: z.number().int().positive().default(15_000),
      })
      .strict()
      .default({ timeoutMs: 15_000 }),
    targets: z
      .object({
        versionlock: z.array(versionlockTarget).default([]),
        terraform: z.array(terraformTarget).default([]),
      })
      .strict()
      .default({ versionlock: [], terraform: [] }),
    access: z
      .object({
        commands: z.partialRecord(z.enum(COMMAND_NAMES), accessRule).default({}),
        approvals: z.partialRecord(z.enum(COMMAND_NAMES), approvalRule).default({}),
        actions: z
          .partialRecord(z.enum(ACTION_NAMES), accessRule)
          .default({})
          .describe('who may press a button: retry-pipeline (default: the access.commands.pipeline rule)'),
      })
      .strict()
      .default({ commands: {}, approvals: {}, actions: {} }),
    pipelines: pipelinesSection,
    changes: z
      .object({
        leaseMs: z
          .number()
          .int()
          .min(500)
          .default(20_000)
          .describe(
            'apply lease: a change whose replica died is resumed by another this long after its last renewal',
          ),
        resumeIntervalMs: z
          .number()
          .int()
          .min(50)
          .default(2_000)
          .describe('how often each replica looks for changes whose lease expired (well under leaseMs)'),
        slackSyncIntervalMs: z
          .number()
          .int()
          .min(50)
          .default(2_000)
          .describe(
            'how often change threads behind their state are retried in Slack (changes sync at once)',
          ),
        maxApplyAttempts: z
          .number()
          .int()
          .min(1)
          .max(20)
          .default(5)
          .describe('apply attempts on retryable forge errors before a change is marked failed'),
        gitAuthor: z
          .object({
            name: z.string().min(1).default('opsbot'),
            email: z.string().min(3).default('opsbot@localhost'),
          })
          .strict()
          .default({ name: 'opsbot', email: 'opsbot@localhost' })
          .describe(
            'who commits when /amend changes an MR branch with git (committer, and author of added commits)',
          ),
        coAuthors: z
          .record(
            z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'a Slack user id such as U012AB3CD'),
            z
              .string()
              .regex(
                /^[^<>\r\n]+ <[^<>\s@]+@[^<>\s]+>$/,
                'the form "Name <email>" the forge knows the person by',
              ),
          )
          .default({})
          .describe(
            'Slack user id -> "Name <email>" on the forge: an /amend commit requested by that person carries a Co-authored-by trailer, so the forge credits them',
          ),
      })
      .strict()
      .default({
        leaseMs: 20_000,
        resumeIntervalMs: 2_000,
        slackSyncIntervalMs: 2_000,
        maxApplyAttempts: 5,
        gitAuthor: { name: 'opsbot', email: 'opsbot@localhost' },
        coAuthors: {},
      }),
    watch: watchSection
      .optional()
      .describe('post platform events (host errors, preemptions, ...) to a channel as they happen; polling'),
    store: z
      .object({
        dataDir: z
          .string()
          .default(DEFAULT_DATA_DIR)
          .describe('SQLite file location when DATABASE_URL is not set'),
        queryTimeoutMs: z
          .number()
          .int()
          .min(1_000)
          .default(DEFAULT_QUERY_TIMEOUT_MS)
          .describe(
            'PostgreSQL: a query with no answer for this long fails and its connection is dropped (after a failover or a network drop, open connections may never answer again)',
          ),
      })
      .strict()
      .default({ dataDir: DEFAULT_DATA_DIR, queryTimeoutMs: DEFAULT_QUERY_TIMEOUT_MS }),
    logging: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.changes.resumeIntervalMs >= cfg.changes.leaseMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['changes', 'resumeIntervalMs'],
        message: `must be shorter than changes.leaseMs (${cfg.changes.leaseMs})`,
      });
    }
    const seen = new Set<string>();
    for (const [kind, list] of Object.entries(cfg.targets)) {
      list.forEach((t, i) => {
        if (seen.has(t.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', kind, i, 'name'],
            message: `duplicate target name "${t.name}"`,
          });
        }
        seen.add(t.name);
        if (!cfg.forges[t.forge]) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', kind, i, 'forge'],
            message: `forge "${t.forge}" is used but forges.${t.forge} is not configured`,
          });
        }
      });
    }
    cfg.targets.versionlock.forEach((t, i) => {
      if (t.format === 'ansible-vars' && !t.key) {
        ctx.addIssue({
          code: 'custom',
          path: ['targets', 'versionlock', i, 'key'],
          message: 'required for format ansible-vars',
        });
      }
    });
  });

export type FileConfig = z.infer<typeof configSchema>;
export type VersionlockTarget = FileConfig['targets']['versionlock'][number];
export type TerraformTarget = FileConfig['targets']['terraform'][number];
export type AccessRule = z.infer<typeof accessRule>;
export type ApprovalRule = z.infer<typeof approvalRule>;

export interface Config extends FileConfig {
  readonly secrets: Secrets;
  readonly configPath: string | null;
}

const formatIssue = (issue: z.core.$ZodIssue): string => {
  const key = issue.path.length ? issue.path.join('.') : '(top level)';
  return `${key}: ${issue.message}`;
};

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
};

/**
 * Loads the YAML file (or an empty config when `path` is null), applies environment overrides, validates,
 * checks that the secrets the chosen mode needs are present, and returns a frozen object. Every problem is
 * thrown as one AppError('config_invalid') whose message names the key and what is expected.
 */
export const loadConfig = (
  env: Env,
  path: string | null,
  options: { requireSlack?: boolean; readFile?: (p: string) => string } = {},
): Config => {
  const readFile = options.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  let raw: unknown = {};
  if (path !== null) {
    let text: string;
    try {
      text = readFile(path);
    } catch (cause) {
      throw new AppError(
        'config_invalid',
        `Config file ${path} cannot be read (set --config or OPSBOT_CONFIG).`,
        {
          cause,
        },
      );
    }
    try {
      raw = parseYaml(text) ?? {};
    } catch (cause) {
      const msg = cause instanceof Error ? cause.message.split('\n')[0] : 'invalid YAML';
      throw new AppError('config_invalid', `Config file ${path} is not valid YAML: ${msg}`, { cause });
    }
    if (typeof raw !== 'object' || Array.isArray(raw)) {
      throw new AppError('config_invalid', `Config file ${path} must hold a YAML mapping at the top level.`);
    }
  }
  const parsed = configSchema.safeParse(dropNulls(raw));
  if (!parsed.success) {
    const where = path ? ` in ${path}` : '';
    const lines = parsed.error.issues.map(formatIssue);
    throw new AppError('config_invalid', `Invalid configuration${where}: ${lines.join('; ')}`);
  }
  const cfg = parsed.data;
  if (env.SLACK_API_URL) {
    const ok = z.url().safeParse(env.SLACK_API_URL);
    if (!ok.success)
      throw new AppError('config_invalid', `SLACK_API_URL: expected a URL, got "${env.SLACK_API_URL}".`);
    cfg.slack.apiUrl = env.SLACK_API_URL;
  }
  if (!cfg.slack.apiUrl.endsWith('/')) cfg.slack.apiUrl = `${cfg.slack.apiUrl}/`;
  if (env.PORT !== undefined && env.PORT !== '') {
    const port = Number(env.PORT);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new AppError('config_invalid', `PORT: expected a port number 0-65535, got "${env.PORT}".`);
    }
    cfg.http.port = port;
  }
  if (env.OPSBOT_LOG_LEVEL) {
    const lvl = configSchema.shape.logging.unwrap().shape.level.safeParse(env.OPSBOT_LOG_LEVEL);
    if (!lvl.success)
      throw new AppError(
        'config_invalid',
        'OPSBOT_LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent.',
      );
    cfg.logging.level = lvl.data;
  }
  const secrets = readSecrets(env, options.readFile);
  if (options.requireSlack) {
    if (!secrets.SLACK_BOT_TOKEN)
      throw new AppError(
        'config_invalid',
        'SLACK_BOT_TOKEN is not set: expected the bot token (xoxb-...) of the Slack app.',
      );
    if (!secrets.SLACK_BOT_TOKEN.startsWith('xoxb-') && !secrets.SLACK_BOT_TOKEN.startsWith('xoxp-')) {
      throw new AppError('config_invalid', 'SLACK_BOT_TOKEN: expected a bot token starting with "xoxb-".');
    }
    if (cfg.slack.mode === 'socket') {
      if (!secrets.SLACK_APP_TOKEN?.startsWith('xapp-')) {
        throw new AppError(
          'config_invalid',
          'SLACK_APP_TOKEN is not set or not an app-level token (xapp-...): slack.mode is "socket", which needs one with connections:write.',
        );
      }
    } else if (!secrets.SLACK_SIGNING_SECRET) {
      throw new AppError(
        'config_invalid',
        'SLACK_SIGNING_SECRET is not set: slack.mode is "http", which needs the app\'s signing secret.',
      );
    }
  }
  for (const t of [...cfg.targets.versionlock, ...cfg.targets.terraform]) {
    if (options.requireSlack && t.forge === 'gitlab' && !secrets.GITLAB_TOKEN) {
      throw new AppError('config_invalid', `GITLAB_TOKEN is not set: target "${t.name}" uses GitLab.`);
    }
    // The same rule createForge applies: the App when both ids are configured and its key is set, else the token.
    const gh = cfg.forges.github;
    const githubApp = gh?.appId !== undefined && gh.installationId !== undefined;
    if (
      options.requireSlack &&
      t.forge === 'github' &&
      !secrets.GITHUB_TOKEN &&
      !(githubApp && secrets.GITHUB_APP_PRIVATE_KEY)
    ) {
      throw new AppError(
        'config_invalid',
        githubApp
          ? `GITHUB_APP_PRIVATE_KEY (or GITHUB_TOKEN) is not set: target "${t.name}" uses GitHub through the App of forges.github.`
          : `GITHUB_TOKEN is not set: target "${t.name}" uses GitHub (or set forges.github.appId, installationId and GITHUB_APP_PRIVATE_KEY for a GitHub App).`,
      );
    }
  }
  return deepFreeze({ ...cfg, secrets, configPath: path });
};

/** A YAML key left empty (`endpoints:` followed only by comments) means "not set", not "null". */
const dropNulls = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, dropNulls(v)]),
    );
  }
  return value;
};

/** `--config` wins, then OPSBOT_CONFIG, else no file (all defaults). */
export const resolveConfigPath = (flag: string | undefined, env: Env): string | null =>
  flag ?? (env.OPSBOT_CONFIG || null);

export const buildConfigJsonSchema = (): unknown =>
  z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
