import { describe, expect, it } from 'vitest';
import { parseTfImportArgs } from '../../src/handlers/tf-import.js';
import { parseVersionlockArgs } from '../../src/handlers/versionlock.js';

describe('/versionlock arguments', () => {
  it.each([
    [
      'elasticsearch 7.10.2',
      {
        op: 'change',
        request: { op: 'add', pkg: 'elasticsearch', version: '7.10.2' },
        target: null,
        dryRun: false,
      },
    ],
    [
      'add elasticsearch 7.10.2-1 --target es-prod',
      {
        op: 'change',
        request: { op: 'add', pkg: 'elasticsearch', version: '7.10.2-1' },
        target: 'es-prod',
        dryRun: false,
      },
    ],
    [
      'add elasticsearch 1:7.10.2-1.el7 --dry-run',
      {
        op: 'change',
        request: { op: 'add', pkg: 'elasticsearch', version: '1:7.10.2-1.el7' },
        target: null,
        dryRun: true,
      },
    ],
    [
      'remove elasticsearch \u2014dry-run --target=es',
      { op: 'change', request: { op: 'remove', pkg: 'elasticsearch' }, target: 'es', dryRun: true },
    ],
    ['list', { op: 'list', target: null }],
    ['LIST --target el7', { op: 'list', target: 'el7' }],
  ])('reads %j', (text, args) => {
    expect(parseVersionlockArgs(text)).toEqual({ ok: true, args });
  });

  it.each([
    ['', 'what should be locked'],
    ['add elasticsearch', 'two words'],
    ['remove', 'one package name'],
    ['list extra', 'takes no arguments'],
    ['list --dry-run', 'changes nothing'],
    ['add "a b" 1', 'package name "a b" is refused'],
    ['add es*  1', 'package name "es*" is refused'],
    ['add elasticsearch "7.10.2\nevil"', 'version'],
    ['add elasticsearch 7.10.2 --colour red', 'unknown option --colour'],
    ['add elasticsearch 7.10.2 --target', '--target needs a value'],
    ['add elasticsearch 7.10.2 --dry-run=yes', '--dry-run takes no value'],
    ['frobnicate a b c', 'two words'],
  ])('refuses %j with a problem the user can act on', (text, problem) => {
    const out = parseVersionlockArgs(text);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.problem).toContain(problem);
  });
});

describe('/tf-import arguments', () => {
  it('reads an address and an id, or a VM with its location', () => {
    expect(
      parseTfImportArgs('module.net.google_compute_network.main projects/p/global/networks/main --dry-run'),
    ).toEqual({
      ok: true,
      args: {
        kind: 'address',
        address: 'module.net.google_compute_network.main',
        id: 'projects/p/global/networks/main',
        target: null,
        dryRun: true,
      },
    });
    expect(parseTfImportArgs('vm web-1 --project shop-prod --zone europe-west1-b --target prod')).toEqual({
      ok: true,
      args: {
        kind: 'vm',
        vm: 'web-1',
        project: 'shop-prod',
        zone: 'europe-west1-b',
        target: 'prod',
        dryRun: false,
      },
    });
  });

  it.each([
    ['', 'what should be imported'],
    ['vm', 'one VM name'],
    ['google_compute_instance.web_1', 'address and the import id'],
    ['google_compute_instance.web_1 x --zone europe-west1-b', 'go with `vm <name>`'],
    ['not-an-address x', 'refused'],
  ])('refuses %j', (text, problem) => {
    const out = parseTfImportArgs(text);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.problem).toContain(problem);
  });
});
