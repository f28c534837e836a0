import { z } from 'zod';

/**
 * Thread notes as data. The lifecycle queues them (in the transaction of the transition they tell about);
 * the Slack reconciler renders and posts them. Each kind is parsed with its schema when read back.
 */
export const changeNoteSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('approved'), by: z.string(), retry: z.boolean() }),
  z.object({
    kind: z.literal('opened'),
    mrUrl: z.string(),
    mrNumber: z.number().int(),
    reused: z.boolean(),
  }),
  z.object({ kind: z.literal('replanned') }),
  z.object({ kind: z.literal('obsolete'), reason: z.string() }),
  z.object({ kind: z.literal('failed'), reason: z.string(), ref: z.string() }),
  z.object({ kind: z.literal('cancelled'), by: z.string() }),
  z.object({ kind: z.literal('waiting') }),
  // /amend: pushed onto the MR's branch (or found already there after a retry).
  z.object({
    kind: z.literal('amend_pushed'),
    branch: z.string(),
    mode: z.enum(['add', 'amend']),
    oldSha: z.string().nullable(),
    newSha: z.string(),
    mrUrl: z.string(),
    mrNumber: z.number().int(),
    already: z.boolean(),
    noteProblem: z.string().nullable(),
  }),
  // /amend: the branch moved since the preview; nothing was pushed. Who pushed what, newest first.
  z.object({
    kind: z.literal('amend_head_moved'),
    branch: z.string(),
    expected: z.string(),
    actual: z.string().nullable(),
    commits: z.array(z.object({ sha: z.string(), author: z.string(), subject: z.string() })),
  }),
]);

export type ChangeNoteData = z.infer<typeof changeNoteSchema>;

/** A stored note back as data; null when its kind is unknown to this version (skipped, not fatal). */
export const parseNote = (kind: string, payload: string): ChangeNoteData | null => {
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return null;
  }
  const parsed = changeNoteSchema.safeParse({ ...(data as object), kind });
  return parsed.success ? parsed.data : null;
};
