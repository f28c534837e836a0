/**
 * The one place Slack text is made safe and made to fit. Every text that comes from outside opsbot (evidence,
 * a forge, a user) goes through `escapeText` on its way into mrkdwn or plain_text, and every block builder
 * keeps to Slack's limits through the helpers here (Slack rejects the whole message when one block is over).
 */

/** Block Kit limits, from Slack's reference (characters unless noted). */
export const SLACK_LIMITS = {
  blocksPerMessage: 50,
  sectionText: 3_000,
  sectionField: 2_000,
  headerText: 150,
  contextElementText: 2_000,
  contextElements: 10,
  buttonText: 75,
  buttonValue: 2_000,
  buttonUrl: 3_000,
  actionId: 255,
  messageText: 40_000,
} as const;

/**
 * Slack's three control characters, so text from outside cannot become a mention (`<!channel>`, `<@U1>`),
 * a user-group ping or a link. Slack's own rule: escape `&`, `<` and `>` and nothing else.
 */
export const escapeText = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const ELLIPSIS = '…';

/**
 * At most `max` characters (UTF-16 units, as Slack counts), ending in an ellipsis when cut. Never cuts an
 * escape (`&amp;`) or a surrogate pair in half.
 */
export const truncate = (text: string, max: number): string => {
  if (text.length <= max) return text;
  let cut = Math.max(0, max - ELLIPSIS.length);
  const amp = text.lastIndexOf('&', cut);
  if (amp >= 0 && amp >= cut - 5 && /^&(amp|lt|gt);/.test(text.slice(amp, amp + 5))) {
    const end = text.indexOf(';', amp);
    if (end >= cut) cut = amp;
  }
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}${ELLIPSIS}`;
};
