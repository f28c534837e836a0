import { z } from 'zod';

/**
 * Small pieces shared by the GitLab and GitHub webhook parsers and the adapters' CI readers: lenient readers
 * for the fields both forges send in several spellings.
 */

/**
 * A forge timestamp: ISO 8601 (`2021-02-23T02:41:37.886Z`, `2012-01-03T23:36:29+02:00`) or GitLab's hook
 * format (`2016-08-12 15:23:28 UTC`). null when absent or unreadable.
 */
export const forgeDate = (v: unknown): Date | null => {
  if (typeof v !== 'string' || v.trim() === '') return null;
  let s = v.trim();
  const utc = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC$/.exec(s);
  if (utc) s = `${utc[1]}T${utc[2]}Z`;
  else {
    // "2016-08-12 15:23:28 +0200" -> ISO
    const off = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?) ?([+-]\d{2}):?(\d{2})$/.exec(s);
    if (off) s = `${off[1]}T${off[2]}${off[3]}:${off[4]}`;
  }
  const ms = Date.parse(s);
  return Number.isFinite(ms) ? new Date(ms) : null;
};

export const msOf = (d: Date | null): number => (d ? d.getTime() : 0);

/** A string field that may be null or missing. */
export const optText = z
  .string()
  .nullish()
  .transform((v) => v ?? null);

/** A positive integer id, as a number (both forges send ids as JSON numbers). */
export const intId = z.number().int().nonnegative();

/** A loose object schema: unknown keys are allowed and dropped. */
export const loose = <T extends z.ZodRawShape>(shape: T) => z.object(shape);

/** The first problem of a failed parse, for a log line ("object_attributes.id: expected number"). */
export const firstIssue = (err: z.ZodError): string => {
  const issue = err.issues[0];
  if (!issue) return 'invalid payload';
  return `${issue.path.join('.') || '(top level)'}: ${issue.message}`;
};
