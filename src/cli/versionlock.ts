import { parseArgs } from 'node:util';
import {
  editVersionlock,
  listVersionlocks,
  VERSIONLOCK_FORMATS,
  type VersionlockFormat,
  type VersionlockRequest,
} from '../playbooks/versionlock/index.js';
import { type CliCommand, type CliIo, EXIT_OK, EXIT_USAGE } from './io.js';
import { localEditFailure, readLocalFile, resolveLocalFile, showLocalEdit } from './local-file.js';

export const VERSIONLOCK_HELP = `Usage: opsbot versionlock add|remove|list <pkg> [<version>] --file PATH --format yum|dnf|ansible-vars [options]

Edit a yum/dnf versionlock list, or a list in Ansible vars, in place (comments, order and unrelated lines
are kept) and print the unified diff. Nothing is written without --write.

  add <pkg> <version>   lock <pkg>; <version> is [EPOCH:]VERSION[-RELEASE], e.g. 7.10.2-1 or 1:7.10.2-1
                        (an existing lock of the same package is replaced)
  remove <pkg>          remove the lock of <pkg> (ansible items with a state: key get state: absent)
  list [<pkg>]          print the entries of the file
  <pkg> <version>       short for add

Options:
  --file PATH              the file to edit (no ".." allowed; must be a regular file)
  --format FORMAT          yum     EL7 yum-plugin-versionlock: 0:elasticsearch-7.10.2-1.*
                           dnf     EL8/9 dnf versionlock:      elasticsearch-0:7.10.2-1.*
                           ansible-vars  a YAML list under --key (strings or {name:, state:} items)
  --key a.b                ansible-vars: dotted key path of the list, e.g. versionlock_packages
  --release-default P=R    release to use for package P when the version has none (repeatable);
                           yum needs a release: without one, the command refuses
  --arch ARCH              architecture written in yum/dnf lines (default "*")
  --write                  apply the change (atomically: temp file + rename, mode kept)
  -h, --help               this help

Exit status: 0 with a diff or "nothing to change: <reason>", 2 when the input or the file is refused.

Examples:
  opsbot versionlock add elasticsearch 7.10.2-1 --file versionlock.list --format yum
  opsbot versionlock add elasticsearch 7.10.2 --file versionlock.list --format yum --release-default elasticsearch=1
  opsbot versionlock add kernel 4.18.0-513.el8 --file versionlock.list --format dnf --arch x86_64 --write
  opsbot versionlock remove elasticsearch --file group_vars/all.yml --format ansible-vars --key versionlock_packages
  opsbot versionlock list --file /etc/yum/pluginconf.d/versionlock.list --format yum
`;

const fail = (io: CliIo, message: string): number => {
  io.stderr.write(`opsbot versionlock: ${message}\n`);
  return EXIT_USAGE;
};

export const runVersionlock: CliCommand = async (args, io) => {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    return fail(
      io,
      `${err instanceof Error ? err.message : String(err)}\nRun \`opsbot versionlock --help\` for usage.`,
    );
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(VERSIONLOCK_HELP);
    return EXIT_OK;
  }
  try {
    const format = values.format as VersionlockFormat | undefined;
    if (!format || !VERSIONLOCK_FORMATS.includes(format)) {
      return fail(io, `--format must be one of ${VERSIONLOCK_FORMATS.join(', ')}`);
    }
    if (!values.file) return fail(io, '--file PATH is required');
    const releases: Record<string, string> = {};
    for (const pair of values['release-default'] ?? []) {
      const eq = pair.indexOf('=');
      if (eq <= 0) return fail(io, `--release-default takes PKG=RELEASE, got ${JSON.stringify(pair)}`);
      releases[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
    const options = { format, key: values.key, releases, arch: values.arch };

    const [first, ...rest] = positionals;
    let op: 'add' | 'remove' | 'list';
    let operands: string[];
    if (first === 'add' || first === 'remove' || first === 'list') {
      op = first;
      operands = rest;
    } else if (positionals.length === 2) {
      op = 'add';
      operands = positionals;
    } else {
      return fail(io, 'expected add <pkg> <version>, remove <pkg> or list (see --help)');
    }

    const file = await resolveLocalFile(values.file, io.cwd);
    const before = await readLocalFile(file);

    if (op === 'list') {
      if (operands.length > 1) return fail(io, 'list takes at most one package name');
      if (before === null) return fail(io, `cannot read ${values.file}: no such file`);
      const entries = listVersionlocks(before, options).filter((e) => !operands[0] || e.name === operands[0]);
      if (entries.length === 0) io.stdout.write('no versionlock entries\n');
      for (const e of entries) io.stdout.write(`${e.line}: ${e.text}${e.exclude ? '  (exclude)' : ''}\n`);
      return EXIT_OK;
    }

    let request: VersionlockRequest;
    if (op === 'add') {
      if (operands.length !== 2) return fail(io, 'add takes <pkg> <version>');
      request = { op, pkg: operands[0] as string, version: operands[1] as string };
    } else {
      if (operands.length !== 1) return fail(io, 'remove takes <pkg>');
      request = { op, pkg: operands[0] as string };
    }
    if (before === null && format === 'ansible-vars')
      return fail(io, `cannot read ${values.file}: no such file`);

    const outcome = editVersionlock(before, request, options);
    if (outcome.kind === 'nothing-to-do') {
      io.stdout.write(`nothing to change: ${outcome.reason}\n`);
      return EXIT_OK;
    }
    await showLocalEdit(io, file, before, outcome, values.write === true);
    return EXIT_OK;
  } catch (err) {
    return localEditFailure(io, 'versionlock', err);
  }
};

const parseOptions = (args: readonly string[]) =>
  parseArgs({
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      file: { type: 'string' },
      format: { type: 'string' },
      key: { type: 'string' },
      'release-default': { type: 'string', multiple: true },
      arch: { type: 'string' },
      write: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
