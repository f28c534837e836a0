import { AppError } from '../../core/errors.js';

/**
 * Wall-clock time in an IANA zone -> UTC instant, and the year inference classic syslog needs
 * (`May  3 23:31:52` carries neither a year nor a zone).
 */

const MONTHS: Readonly<Record<string, number>> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

/** 0-based month of a three-letter English month name (any case), or -1. */
export const monthIndex = (name: string): number => MONTHS[name.toLowerCase()] ?? -1;

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, number>();
const OFFSET_CACHE_MAX = 10_000;

const formatterFor = (timeZone: string): Intl.DateTimeFormat => {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (cause) {
      throw new AppError(
        'bad_input',
        `Unknown time zone "${timeZone}" (use an IANA name such as Europe/Paris).`,
        {
          cause,
        },
      );
    }
    formatters.set(timeZone, f);
  }
  return f;
};

/** Throws a bad_input AppError when `timeZone` is not a zone this runtime knows. */
export const assertTimeZone = (timeZone: string): void => {
  if (isUtc(timeZone)) return;
  formatterFor(timeZone);
};

const isUtc = (timeZone: string): boolean => timeZone === 'UTC' || timeZone === 'Etc/UTC' || timeZone === 'Z';

/** Offset (ms, local minus UTC) of `timeZone` at the UTC instant `utcMs`. Cached per zone and quarter hour. */
export const zoneOffsetMs = (timeZone: string, utcMs: number): number => {
  if (isUtc(timeZone)) return 0;
  const bucket = Math.floor(utcMs / 900_000);
  const key = `${timeZone}|${bucket}`;
  const cached = offsetCache.get(key);
  if (cached !== undefined) return cached;
  const at = bucket * 900_000;
  const parts = formatterFor(timeZone).formatToParts(new Date(at));
  const get = (type: string): number => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const asUtc = Date.UTC(
    get('year'),
    get('month') - 1,
    get('day'),
    get('hour'),
    get('minute'),
    get('second'),
  );
  const offset = asUtc - at;
  if (offsetCache.size >= OFFSET_CACHE_MAX) offsetCache.clear();
  offsetCache.set(key, offset);
  return offset;
};

/** UTC epoch ms of a wall-clock time in `timeZone` (month 0-based). DST gaps resolve to the later offset. */
export const wallTimeToUtcMs = (
  timeZone: string,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number => {
  const wall = Date.UTC(year, month, day, hour, minute, second, ms);
  if (isUtc(timeZone)) return wall;
  const first = wall - zoneOffsetMs(timeZone, wall);
  const second2 = wall - zoneOffsetMs(timeZone, first);
  return second2;
};

const DAY_MS = 86_400_000;

/**
 * Year of a classic syslog timestamp: the latest year (around the reference's) that does not put the line more
 * than a day after the reference (a log line cannot come from the future of the file's mtime / "now").
 * So with a reference in January, a "Dec 31" line belongs to the previous year.
 * Returns the UTC epoch ms, or null when the date cannot exist (Feb 30, or Feb 29 with no leap year nearby).
 */
export const inferClassicUtcMs = (
  referenceMs: number,
  timeZone: string,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms: number,
): number | null => {
  const refYear = new Date(referenceMs).getUTCFullYear();
  const limit = referenceMs + DAY_MS;
  // Feb 29 needs a leap year: look back up to 8 years; other dates need at most 3 candidates.
  for (let year = refYear + 1; year >= refYear - 8; year--) {
    const wall = new Date(Date.UTC(year, month, day));
    if (wall.getUTCMonth() !== month) continue; // no such day this year
    const t = wallTimeToUtcMs(timeZone, year, month, day, hour, minute, second, ms);
    if (t <= limit) return t;
  }
  return null;
};
