import { IntegrationError } from '../../core/errors.js';

/**
 * Slack's answers, read from the IntegrationError every SlackPort call throws (`details.slackError`), so a
 * handler asks "is this Slack saying X" here instead of comparing error codes itself.
 */

/** Slack's error code (`channel_not_found`, `ratelimited`, ...) of a failed Web API call, else null. */
export const slackErrorOf = (err: unknown): string | null =>
  err instanceof IntegrationError && err.service === 'slack' && typeof err.details.slackError === 'string'
    ? err.details.slackError
    : null;

const CANNOT_POST_HERE = new Set(['not_in_channel', 'channel_not_found', 'is_archived']);

/**
 * The bot cannot post in that channel (never invited to a private channel, a DM with someone else, an
 * archived channel): answer the user privately instead (response_url works everywhere).
 */
export const isNotInChannel = (err: unknown): boolean => CANNOT_POST_HERE.has(slackErrorOf(err) ?? '');

const TRIGGER_GONE = new Set(['expired_trigger_id', 'invalid_trigger_id', 'exchanged_trigger_id']);

/** views.open could not use the trigger id: it expired (3 s after the command), was used, or never was. */
export const isTriggerGone = (err: unknown): boolean => TRIGGER_GONE.has(slackErrorOf(err) ?? '');
