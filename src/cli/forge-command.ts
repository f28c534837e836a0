import { resolve } from 'node:path';
import { type Config, loadConfig } from '../core/config.js';
import { isAppError } from '../core/errors.js';
import { SecretSanitizer } from '../core/logger.js';
import { secretValues } from '../core/secrets.js';
import { createForge } from '../integrations/forge/create.js';
import type { MergeRequestRef } from '../integrations/forge/events.js';
import { githubWebOf, type MrRefParse, parseMrRef } from '../playbooks/pipelines/mr-ref.js';
import type { CliIo } from './io.js';

/**
 * The steps every CLI command on one merge request takes (`opsbot pipeline`, `opsbot amend`): the config,
 * the MR named on the command line, the forge's adapter, the sanitizer for what the forge says, and the
 * one-line message of a failure. A step that refuses returns `{ problem }`, which the command prints as a
 * usage error (exit 2); the command keeps its own order of checks between the steps.
 */

export interface Problem {
  readonly problem: string;
}

const problemOf = (err: unknown): Problem => ({ problem: isAppError(err) ? err.userMessage : String(err) });

/** The config from --config, else $OPSBOT_CONFIG, else the environment alone. */
export const loadCommandConfig = (io: CliIo, configFlag: string | undefined): Config | Problem => {
  const configPath = configFlag ?? io.env.OPSBOT_CONFIG ?? null;
  try {
    return loadConfig(io.env, configPath ? resolve(io.cwd, configPath) : null);
  } catch (err) {
    return problemOf(err);
  }
};

/** An MR named as group/project!42, owner/repo#42 or a URL on one of the configured forges. */
export const parseCommandMr = (input: string, config: Config): MrRefParse =>
  parseMrRef(input, {
    gitlab: config.forges.gitlab?.host ?? null,
    github: config.forges.github ? githubWebOf(config.forges.github.baseUrl) : null,
  });

export const openCommandForge = (
  ref: MergeRequestRef,
  config: Config,
): ReturnType<typeof createForge> | Problem => {
  try {
    return createForge(ref.forge, config.forges, config.secrets);
  } catch (err) {
    return problemOf(err);
  }
};

/** Scrubs every configured secret from text a forge or git sends back before it is printed. */
export const commandSanitizer = (config: Config): SecretSanitizer => {
  const sanitizer = new SecretSanitizer();
  sanitizer.register(...secretValues(config.secrets));
  return sanitizer;
};

/** What a command prints for an unexpected failure: the user message of an AppError, else the first line. */
export const failureMessage = (err: unknown): string =>
  isAppError(err) ? err.userMessage : err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
