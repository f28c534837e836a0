/**
 * The one duration grammar of opsbot, for Slack arguments and command-line flags alike (`--since 90s`,
 * `--since 12h`, `--around 30m`): a positive whole number and a unit, s (seconds), m or min (minutes),
 * h (hours), d (days), w (weeks); case-insensitive, optional space ("7 d").
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  s: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const DURATION_RE = /^(\d{1,7})\s*(s|m|min|h|d|w)$/i;

/** Examples for messages: "30m, 12h or 7d". */
export const DURATION_EXAMPLES = '90s, 30m, 12h or 7d';

/** "7d" -> 604800000; null when the text is not a positive duration. */
export const parseDuration = (text: string): number | null => {
  const m = DURATION_RE.exec(text.trim());
  if (!m?.[1] || !m[2]) return null;
  const ms = Number(m[1]) * (UNIT_MS[m[2].toLowerCase()] ?? 0);
  return ms > 0 ? ms : null;
};
