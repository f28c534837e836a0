/**
 * The Slack Web API in opsbot's terms. Handlers and the command pipeline talk to this, never to the SDK.
 * Every failure is an IntegrationError('slack') carrying Slack's error code (e.g. channel_not_found) in
 * `details.slackError`, never the raw SDK message.
 */

/** A Block Kit block, as JSON. Builders in src/handlers/blocks produce these. */
export type SlackBlock = Readonly<Record<string, unknown>>;

/** A modal view (views.open's `view`), as JSON: `type: 'modal'`, title, blocks, callback_id, ... */
export type SlackView = Readonly<Record<string, unknown>>;

export interface SlackMessage {
  readonly text: string; // notification / fallback text, always set
  readonly blocks?: readonly SlackBlock[];
}

export interface PostedMessage {
  readonly channel: string;
  readonly ts: string;
}

export interface SlackIdentity {
  readonly userId: string;
  readonly botId: string | null;
  readonly teamId: string;
  readonly team: string;
  readonly url: string;
}

/** A file to share in a channel (a thread when `threadTs` is set). */
export interface SlackFileUpload {
  readonly channelId: string;
  readonly threadTs?: string;
  readonly filename: string;
  /** Shown as the file's title: plain text (Slack shows it as is); keep it short. */
  readonly title: string;
  /** The message posted with the file: mrkdwn, escaped by the caller like any message text. */
  readonly initialComment?: string;
  readonly bytes: Uint8Array;
}

export interface SlackPort {
  authTest(): Promise<SlackIdentity>;
  postMessage(
    channel: string,
    /** `replyBroadcast`: a thread reply also shown in the channel (only with `threadTs`). */
    message: SlackMessage & { readonly threadTs?: string; readonly replyBroadcast?: boolean },
  ): Promise<PostedMessage>;
  updateMessage(channel: string, ts: string, message: SlackMessage): Promise<PostedMessage>;
  postEphemeral(channel: string, user: string, message: SlackMessage): Promise<void>;
  /** chat.getPermalink: the https link to a message (a thread root links to the thread). */
  getPermalink(channel: string, ts: string): Promise<string>;
  /**
   * Shares a file: files.getUploadURLExternal -> POST the bytes to the upload URL ->
   * files.completeUploadExternal with channel_id (and thread_ts). Returns the file id.
   */
  uploadFile(upload: SlackFileUpload): Promise<{ readonly fileId: string }>;
  /**
   * conversations.replies: the replies of a thread (every page), as ts + the block_ids they carry. Needs the
   * channels:history / groups:history scopes.
   */
  listThreadReplies(
    channel: string,
    threadTs: string,
  ): Promise<readonly { readonly ts: string; readonly blockIds: readonly string[] }[]>;
  /**
   * conversations.history: top-level messages of a channel posted at or after `oldestTs`, newest first, as
   * ts + the block_ids they carry (every page). Needs channels:history / groups:history.
   */
  listChannelMessages?(
    channel: string,
    oldestTs: string,
  ): Promise<readonly { readonly ts: string; readonly blockIds: readonly string[] }[]>;
  /**
   * views.open: opens a modal for the user who ran a command or clicked, with that request's trigger id
   * (valid about 3 s after it, once). Slack's `expired_trigger_id` / `invalid_trigger_id` /
   * `exchanged_trigger_id` come back as the error's slackError (see `isTriggerGone`).
   */
  openView(triggerId: string, view: SlackView): Promise<{ readonly viewId: string }>;
  /** usergroups.users.list: member user ids of a user group (S...). */
  listUserGroupMembers(groupId: string): Promise<readonly string[]>;
  /** POSTs to a slash command's response_url (works in DMs and channels the bot is not in). */
  respond(
    responseUrl: string,
    message: SlackMessage & {
      readonly responseType?: 'ephemeral' | 'in_channel';
      readonly replaceOriginal?: boolean;
    },
  ): Promise<void>;
}
