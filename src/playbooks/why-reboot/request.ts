/**
 * What the user asked /why-reboot (and /diag), read the same way from Slack and from the command line: the VM
 * reference merged with --project/--zone, and the window from --since/--until (one duration grammar,
 * src/core/duration.ts). Each front end only splits its own input into these values.
 */
import { DURATION_EXAMPLES, parseDuration } from '../../core/duration.js';
import { AppError } from '../../core/errors.js';
import { type InstanceSpec, mergeSpec, parseInstanceSpec } from './resolve-instance.js';
import type { TimeWindow } from './types.js';

/** Admin Activity audit logs are kept 400 days: a longer window cannot find more. */
export const MAX_WINDOW_MS = 400 * 86_400_000;

const bad = (message: string): AppError => new AppError('bad_input', message);

/**
 * A VM as typed (name, zone/name, project/zone/name, an API or Console URL; Slack's `<url|label>` link
 * wrapping removed; names lowercased) merged with --project/--zone. Throws AppError('bad_input').
 */
export const parseVmReference = (
  typed: string,
  flags: { readonly project?: string | null | undefined; readonly zone?: string | null | undefined } = {},
): InstanceSpec => {
  const unwrapped = typed.trim().replace(/^<([^|>]+)(\|[^>]*)?>$/, '$1');
  const spec = parseInstanceSpec(/^https?:/i.test(unwrapped) ? unwrapped : unwrapped.toLowerCase());
  return mergeSpec(spec, { project: flags.project ?? undefined, zone: flags.zone ?? undefined });
};

/** A --since/--until value that is a timestamp (ISO 8601, at least a date). */
const parseInstant = (value: string, flag: string): Date => {
  if (!/^\d{4}-\d{2}-\d{2}/.test(value.trim())) {
    throw bad(
      `--${flag} takes a duration such as ${DURATION_EXAMPLES}, or an ISO timestamp like 2026-05-03T23:00:00Z, not "${value.slice(0, 80)}"`,
    );
  }
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw bad(`--${flag} "${value.slice(0, 80)}" is not a valid timestamp`);
  return d;
};

/**
 * The window: --since is a duration before the end or a timestamp; --until a timestamp (default `end`).
 * Throws AppError('bad_input') for an unreadable value, an empty window, or one longer than 400 days.
 */
export const buildWindow = (
  since: string | null | undefined,
  until: string | null | undefined,
  end: Date,
  fallback = '7d',
): TimeWindow => {
  const to = until ? parseInstant(until, 'until') : end;
  const sinceValue = since ?? fallback;
  const duration = parseDuration(sinceValue);
  const from = duration !== null ? new Date(to.getTime() - duration) : parseInstant(sinceValue, 'since');
  if (from.getTime() >= to.getTime()) throw bad('the window is empty: --since must be before --until');
  if (to.getTime() - from.getTime() > MAX_WINDOW_MS) throw bad('--since can look back at most 400d');
  return { from, to };
};
