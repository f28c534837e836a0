import { readFileSync } from 'node:fs';
import { AppError } from './errors.js';

/** Every secret opsbot reads, by environment variable name. Each may also come from `<NAME>_FILE`. */
export const SECRET_ENV_NAMES = [
  'SLACK_BOT_TOKEN',
  'SLACK_SIGNING_SECRET',
  'SLACK_APP_TOKEN',
  'GITLAB_TOKEN',
  'GITLAB_WEBHOOK_SECRET',
  'GITLAB_WEBHOOK_SECRET_PREVIOUS', // accepted too while a rotated secret is rolled out
  'GITHUB_TOKEN',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_WEBHOOK_SECRET',
  'GITHUB_WEBHOOK_SECRET_PREVIOUS',
  'DATABASE_URL',
  'GOOGLE_OAUTH_ACCESS_TOKEN', // static Google bearer token instead of ADC (src/integrations/gce/auth.ts)
] as const;

export type SecretName = (typeof SECRET_ENV_NAMES)[number];
export type Secrets = Readonly<Partial<Record<SecretName, string>>>;
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads secrets from `NAME` or from the file named by `NAME_FILE` (Docker/Kubernetes secrets).
 * Setting both is refused: which one wins would be a guess.
 */
export const readSecrets = (env: Env, readFile: (path: string) => string = defaultReadFile): Secrets => {
  const out: Partial<Record<SecretName, string>> = {};
  for (const name of SECRET_ENV_NAMES) {
    const direct = env[name];
    const file = env[`${name}_FILE`];
    if (direct !== undefined && direct !== '' && file !== undefined && file !== '') {
      throw new AppError('config_invalid', `${name} and ${name}_FILE are both set: set only one of them.`);
    }
    if (file !== undefined && file !== '') {
      let value: string;
      try {
        value = readFile(file).trim();
      } catch (cause) {
        throw new AppError('config_invalid', `${name}_FILE: cannot read the file ${file}.`, { cause });
      }
      if (value === '') throw new AppError('config_invalid', `${name}_FILE: the file ${file} is empty.`);
      out[name] = value;
    } else if (direct !== undefined && direct !== '') {
      out[name] = direct;
    }
  }
  return Object.freeze(out);
};

const defaultReadFile = (path: string): string => readFileSync(path, 'utf8');

/** Values that must never appear in output: each secret, plus the password inside a database URL. */
export const secretValues = (secrets: Secrets): string[] => {
  const values = new Set<string>();
  for (const value of Object.values(secrets)) {
    if (!value) continue;
    values.add(value);
    if (value.includes('://')) {
      try {
        const url = new URL(value);
        if (url.password) values.add(decodeURIComponent(url.password));
      } catch {
        // not a URL: the whole value is registered already
      }
    }
  }
  // Very short values would scrub ordinary words; secrets are never that short.
  return [...values].filter((v) => v.length >= 6);
};
