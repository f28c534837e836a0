/**
 * A static OAuth 2.0 access token for Google APIs (`GOOGLE_OAUTH_ACCESS_TOKEN`, or its `_FILE`), checked
 * without loading any Google library: the REST adapters send it as a bearer header (see auth.ts for what it
 * is for and how it expires).
 */
import { AppError } from '../../core/errors.js';

export const ACCESS_TOKEN_ENV = 'GOOGLE_OAUTH_ACCESS_TOKEN';

/** The token, trimmed; refuses anything that is not one token (the value never appears in the message). */
export const checkAccessToken = (token: string): string => {
  const value = token.trim();
  if (value === '' || /\s/.test(value)) {
    throw new AppError(
      'config_invalid',
      `${ACCESS_TOKEN_ENV}: expected one OAuth 2.0 access token (e.g. the output of \`gcloud auth print-access-token\`).`,
    );
  }
  return value;
};

/**
 * Options for createGceAdapters from the secrets: `{ accessToken }` when GOOGLE_OAUTH_ACCESS_TOKEN is set,
 * else `{}` (Application Default Credentials, loaded on first use).
 */
export const gceAdapterAuth = (secrets: {
  readonly GOOGLE_OAUTH_ACCESS_TOKEN?: string | undefined;
}): { readonly accessToken?: string } => {
  const token = secrets.GOOGLE_OAUTH_ACCESS_TOKEN;
  return token ? { accessToken: checkAccessToken(token) } : {};
};
