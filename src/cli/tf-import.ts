import { parseArgs } from 'node:util';
import { addImportBlock } from '../playbooks/tf-import/index.js';
import { type CliCommand, type CliIo, EXIT_OK, EXIT_USAGE } from './io.js';
import { localEditFailure, readLocalFile, resolveLocalFile, showLocalEdit } from './local-file.js';

export const TF_IMPORT_HELP = `Usage: opsbot tf-import <address> <id> --file PATH [--write]

Append a Terraform (>= 1.5) import block to a local file (created if absent) and print the unified diff:

  import {
    to = <address>
    id = "<id>"
  }

<address> is a managed resource address: [module.NAME[KEY].]...TYPE.NAME[KEY], e.g.
google_compute_instance.web, module.vms["eu"].google_compute_instance.web[0]. Data sources cannot be
imported. <id> is written as an escaped HCL string (\\ and " escaped, \${ and %{ written as $\${ and %%{);
newlines are refused. Quote both for your shell.

Options:
  --file PATH   the imports file, e.g. stacks/prod/imports.tf (no ".."; must be a regular file if present)
  --write       apply the change (atomically: temp file + rename, mode kept)
  -h, --help    this help

Exit status: 0 with a diff or "nothing to change" (the same import is already there), 2 when the input is
refused, an import for the address already exists with another id, or the file is unreadable.

Examples:
  opsbot tf-import google_compute_instance.web-1 projects/acme-prod/zones/europe-west1-b/instances/web-1 --file imports.tf
  opsbot tf-import 'module.net["eu"].google_compute_network.main' projects/acme/global/networks/main --file imports.tf --write
`;

const fail = (io: CliIo, message: string): number => {
  io.stderr.write(`opsbot tf-import: ${message}\n`);
  return EXIT_USAGE;
};

export const runTfImport: CliCommand = async (args, io) => {
  let values: { file?: string | undefined; write?: boolean | undefined; help?: boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...args],
      allowPositionals: true,
      strict: true,
      options: {
        file: { type: 'string' },
        write: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    return fail(
      io,
      `${err instanceof Error ? err.message : String(err)}\nRun \`opsbot tf-import --help\` for usage.`,
    );
  }
  if (values.help) {
    io.stdout.write(TF_IMPORT_HELP);
    return EXIT_OK;
  }
  if (positionals.length !== 2) return fail(io, 'expected <address> <id> (see --help)');
  if (!values.file) return fail(io, '--file PATH is required');
  const [address, id] = positionals as [string, string];
  try {
    const file = await resolveLocalFile(values.file, io.cwd);
    const before = await readLocalFile(file);
    const outcome = addImportBlock(before, address, id);
    if (outcome.kind === 'already-present') {
      if (outcome.existingId === id) {
        io.stdout.write(`nothing to change: ${outcome.reason}\n`);
        return EXIT_OK;
      }
      return fail(io, `refused: ${outcome.reason}`);
    }
    await showLocalEdit(io, file, before, outcome, values.write === true);
    return EXIT_OK;
  } catch (err) {
    return localEditFailure(io, 'tf-import', err);
  }
};
