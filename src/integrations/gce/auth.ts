/**
 * How opsbot authenticates to Google Cloud. Default: Application Default Credentials (the metadata server,
 * GOOGLE_APPLICATION_CREDENTIALS, or `gcloud auth application-default login`), resolved by the adapters.
 *
 * `GOOGLE_OAUTH_ACCESS_TOKEN` (or `GOOGLE_OAUTH_ACCESS_TOKEN_FILE`) instead supplies a static OAuth 2.0 bearer
 * token, as gcloud's `--access-token-file` / `CLOUDSDK_AUTH_ACCESS_TOKEN` do: for air-gapped setups whose token
 * is minted elsewhere (`gcloud auth print-access-token`, a workload-identity sidecar), and for tests against
 * local fakes. No token host is ever contacted; the token is not refreshed, so when it expires (typically
 * after an hour) Google answers 401 and the user is told to renew it. The value is a registered secret
 * (src/core/secrets.ts), scrubbed from every log line.
 */
import { OAuth2Client } from 'google-auth-library';
import { checkAccessToken } from './token.js';

export { ACCESS_TOKEN_ENV } from './token.js';

/** A google-auth-library client that only ever presents `token` (never refreshes, never calls a token host). */
export const createStaticTokenAuthClient = (token: string): OAuth2Client => {
  const value = checkAccessToken(token);
  const client = new OAuth2Client();
  // No expiry_date: google-auth-library then treats the token as valid and sends it as is.
  client.setCredentials({ access_token: value, token_type: 'Bearer' });
  return client;
};

/**
 * Options for the Cloud Monitoring client (a google-auth-library client) from the secrets: `{ authClient }` holding the static token when
 * GOOGLE_OAUTH_ACCESS_TOKEN is set, else `{}` (Application Default Credentials).
 */
export const gceAuthOptions = (secrets: {
  readonly GOOGLE_OAUTH_ACCESS_TOKEN?: string | undefined;
}): { readonly authClient?: OAuth2Client } => {
  const token = secrets.GOOGLE_OAUTH_ACCESS_TOKEN;
  return token ? { authClient: createStaticTokenAuthClient(token) } : {};
};
