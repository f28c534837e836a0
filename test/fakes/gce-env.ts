/**
 * Both GCE fakes plus real adapters pointed at them with a static access token (nothing reaches Google's
 * token host).
 */
import { OAuth2Client } from 'google-auth-library';
import {
  createGceAdapters,
  type GceAdapterOptions,
  type GceAdapters,
} from '../../src/integrations/gce/adapter.js';
import { type FakeCompute, startFakeCompute } from './gce-compute.js';
import { type FakeLogging, type FakeLoggingOptions, startFakeLogging } from './gce-logging.js';

export const TEST_TOKEN = 'ya29.test-static-token-for-fakes';

export const staticTokenClient = (token: string = TEST_TOKEN): OAuth2Client => {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: token, expiry_date: Date.now() + 365 * 24 * 3600 * 1000 });
  return client;
};

export interface GceTestEnv {
  readonly compute: FakeCompute;
  readonly logging: FakeLogging;
  readonly adapters: GceAdapters;
  close(): Promise<void>;
}

export const startGceEnv = async (
  options: { logging?: FakeLoggingOptions; adapter?: Partial<GceAdapterOptions>; token?: string } = {},
): Promise<GceTestEnv> => {
  const compute = await startFakeCompute({ accessToken: TEST_TOKEN });
  const logging = await startFakeLogging({ accessToken: TEST_TOKEN, ...options.logging });
  const adapters = createGceAdapters({
    compute: { apiEndpoint: compute.url },
    logging: { apiEndpoint: logging.url },
    authClient: staticTokenClient(options.token ?? TEST_TOKEN),
    timeoutMs: 5000,
    ...options.adapter,
  });
  return {
    compute,
    logging,
    adapters,
    close: async () => {
      await adapters.close();
      await Promise.all([compute.close(), logging.close()]);
    },
  };
};
