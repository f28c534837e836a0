/**
 * The one place Slack text is made safe and made to fit. Every text that comes from outside opsbot (evidence,
 * a forge, a user) goes through `escapeText` on its way into mrkdwn or plain_text, and every block builder
 * keeps to Slack's limits through the helpers here (Slack rejects the whole message when one block is over).
 * Long text for a thread (a full report, a diff, a log) is cut into code blocks by `splitForCodeBlocks`,
 * which escapes as it goes.
 */

/**
 * Block Kit limits, from Slack's reference (characters unless noted):
 * https://api.slack.com/reference/block-kit/blocks and .../block-elements.
 */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3_000,
  sectionField: 2_000,
  sectionFields: 10,
  headerText: 150,
  contextElementText: 2_000,
  contextElements: 10,
  actionsElements: 25,
  buttonText: 75,
  buttonValue: 2_000,
  buttonUrl: 3_000,
  actionId: 255,
  blockId: 255,
  /** chat.postMessage `text`: Slack truncates above 40,000; keep well under for the notification. */
  messageText: 40_000,
  /** files.completeUploadExternal `title`. */
  fileTitle: 255,
} as const;

/**
 * Slack's three control characters, so text from outside cannot become a mention (`<!channel>`, `<@U1>`),
 * a user-group ping or a link. Slack's own rule: escape `&`, `<` and `>` and nothing else.
 */
export const escapeText = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const ELLIPSIS = '…';

/**
 * The largest index <= `max` at which `text` can be cut without splitting an escape (`&amp;`, `&lt;`,
 * `&gt;`) or a surrogate pair (an emoji) in half.
 */
export const safeCutIndex = (text: string, max: number): number => {
  let cut = Math.max(0, Math.min(max, text.length));
  if (cut >= text.length) return text.length;
  // An escape is at most 5 characters: look back for an '&' whose entity straddles the cut.
  const amp = text.lastIndexOf('&', cut - 1);
  if (amp >= 0 && amp > cut - 5 && /^&(amp|lt|gt);/.test(text.slice(amp, amp + 5))) {
    const end = text.indexOf(';', amp);
    if (end >= cut) cut = amp;
  }
  const code = text.charCodeAt(cut - 1);
  if (cut > 0 && code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return cut;
};

/**
 * At most `max` characters (UTF-16 units, as Slack counts), ending in an ellipsis when cut. Never cuts an
 * escape (`&amp;`) or a surrogate pair in half.
 */
export const truncate = (text: string, max: number): string => {
  if (text.length <= max) return text;
  return `${text.slice(0, safeCutIndex(text, Math.max(0, max - ELLIPSIS.length)))}${ELLIPSIS}`;
};

/** Outside text, escaped, then cut to `max` (the cut never lands inside an escape). */
export const escapeAndTruncate = (text: string, max: number): string => truncate(escapeText(text), max);

/** A code block body that cannot close its fence early: ``` runs broken, backticks at the edges padded. */
const fenceSafe = (body: string): string => {
  let s = body.replace(/```/g, '`\u200b``');
  if (s.startsWith('`')) s = `\u200b${s}`;
  if (s.endsWith('`')) s = `${s}\u200b`;
  return s === '' ? ' ' : s;
};

export interface CodeBlocks {
  /** Complete section texts, each "```…```" within `max` characters. */
  readonly parts: readonly string[];
  readonly shownLines: number;
  readonly totalLines: number;
  /** Lines were left out (`maxParts` reached). */
  readonly truncated: boolean;
}

/**
 * The one code-block splitter: raw text (a full report, a diff, a log) as code blocks for thread messages.
 * Each line is escaped (text from outside cannot mention anyone, even inside a code block), ``` runs are
 * broken so a part cannot close its fence early, and parts are cut at line breaks within `max` characters
 * (fences included). A line longer than a part is wrapped (`longLines: 'wrap'`, every character kept) or cut
 * with an ellipsis (`'cut'`); no cut lands inside an escape or an emoji. At most `maxParts` parts: what does
 * not fit is counted, not shown.
 */
export const splitForCodeBlocks = (
  raw: string,
  options: { readonly max?: number; readonly maxParts?: number; readonly longLines?: 'wrap' | 'cut' } = {},
): CodeBlocks => {
  const max = options.max ?? SLACK_LIMITS.sectionText - 100;
  const maxParts = options.maxParts ?? Number.POSITIVE_INFINITY;
  const budget = max - 8; // the two fences and edge padding
  const lines = raw.replace(/\n$/, '').split('\n');
  const parts: string[] = [];
  let current: string[] = [];
  let size = 0;
  let shown = 0;
  let truncated = false;
  const flush = (): boolean => {
    if (current.length > 0) parts.push(`\`\`\`${fenceSafe(current.join('\n'))}\`\`\``);
    current = [];
    size = 0;
    return parts.length < maxParts;
  };
  const add = (piece: string): boolean => {
    const extra = (current.length > 0 ? 1 : 0) + piece.length;
    if (size + extra > budget && !flush()) return false;
    size += (current.length > 0 ? 1 : 0) + piece.length;
    current.push(piece);
    return true;
  };
  outer: for (const rawLine of lines) {
    // Break ``` before measuring, so the zero-width breaks are counted.
    let line = escapeText(rawLine).replace(/```/g, '`\u200b``');
    if (line.length > budget && options.longLines === 'cut') line = truncate(line, budget);
    while (line.length > budget) {
      const cut = Math.max(1, safeCutIndex(line, budget));
      if (!add(line.slice(0, cut))) {
        truncated = true;
        break outer;
      }
      line = line.slice(cut);
    }
    if (!add(line)) {
      truncated = true;
      break;
    }
    shown += 1;
  }
  if (!truncated) flush();
  return { parts, shownLines: shown, totalLines: lines.length, truncated };
};
