/**
 * The config of an `opsbot serve` process that reads the GCE fakes: google.endpoints pointing at them (a static
 * token in the environment, so nothing reaches Google's token host) and the store in a directory of the test.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GceFakeEndpoints {
  readonly compute: { readonly url: string };
  readonly logging: { readonly url: string };
  readonly monitoring?: { readonly url: string };
}

/**
 * Writes `<dir>/opsbot.yaml`: the google section (endpoints, then `google`: more lines of it, indented two
 * spaces), the store under `<dir>/data`, then `extra` (more top-level sections). Returns its path.
 */
export const writeGceServeConfig = (
  dir: string,
  fakes: GceFakeEndpoints,
  options: { google?: readonly string[]; extra?: readonly string[] } = {},
): string => {
  const configPath = join(dir, 'opsbot.yaml');
  writeFileSync(
    configPath,
    [
      'google:',
      '  endpoints:',
      `    logging: ${fakes.logging.url}`,
      `    compute: ${fakes.compute.url}`,
      ...(fakes.monitoring ? [`    monitoring: ${fakes.monitoring.url}`] : []),
      ...(options.google ?? []),
      'store:',
      `  dataDir: ${join(dir, 'data')}`,
      ...(options.extra ?? []),
      '',
    ].join('\n'),
  );
  return configPath;
};
