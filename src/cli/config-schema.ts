import { buildConfigJsonSchema } from '../core/config.js';
import type { CliCommand } from './io.js';
import { EXIT_OK } from './io.js';

export const runConfigSchema: CliCommand = async (_args, io) => {
  io.stdout.write(`${JSON.stringify(buildConfigJsonSchema(), null, 2)}\n`);
  return EXIT_OK;
};
