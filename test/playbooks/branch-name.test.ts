import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { buildChangeBranchName } from '../../src/playbooks/branch-name.js';
import { buildTfImportBranchName } from '../../src/playbooks/tf-import/index.js';
import { buildVersionlockBranchName } from '../../src/playbooks/versionlock/index.js';

/** git itself decides what a valid branch name is: the names git refuses (one shell, one git per name). */
const invalidRefs = (names: readonly string[]): string[] =>
  execFileSync(
    'sh',
    [
      '-c',
      'for n in "$@"; do git check-ref-format --branch "$n" >/dev/null 2>&1 || echo "$n"; done',
      'sh',
      ...names,
    ],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);

describe('change branch names', () => {
  it('differ per target: every pair of targets of the shipped example config gets its own branch for the same request', () => {
    const cfg = loadConfig({}, 'config/opsbot.example.yaml');
    const request = { op: 'add', pkg: 'elasticsearch', version: '7.10.2-1' } as const;
    const branches = cfg.targets.versionlock.map(
      (t) => `${t.repo} ${buildVersionlockBranchName(t.name, request)}`,
    );
    expect(new Set(branches).size).toBe(cfg.targets.versionlock.length);
    // The two GitLab targets of infra/ansible, in particular.
    expect(buildVersionlockBranchName('el7-prod', request)).toBe(
      'opsbot/versionlock/el7-prod/elasticsearch-7.10.2-1',
    );
    expect(buildVersionlockBranchName('ansible-vars', request)).toBe(
      'opsbot/versionlock/ansible-vars/elasticsearch-7.10.2-1',
    );
    expect(buildTfImportBranchName('prod-stack', 'module.net.google_compute_network.prod')).toBe(
      'opsbot/tf-import/prod-stack/net-google_compute_network-prod',
    );
  });

  it("cannot run a target name and a request together into another target's branch", () => {
    const a = buildVersionlockBranchName('el7', { op: 'add', pkg: 'prod-nginx', version: '1.2-1' });
    const b = buildVersionlockBranchName('el7-prod', { op: 'add', pkg: 'nginx', version: '1.2-1' });
    expect(a).not.toBe(b);
  });

  it('are valid git refs of bounded length for odd inputs, and the same every time', () => {
    const odd = [
      'x.lock',
      'a..b',
      '.hidden',
      '-dash-',
      'épée',
      'a b\tc',
      'ref@{1}',
      'end.',
      '',
      'x'.repeat(400),
      `${'y'.repeat(120)}.lock`,
      '1:7.10.2-1',
      'a/b/../c',
      '~^:?*[\\',
    ];
    const names: string[] = [];
    for (const what of odd) {
      for (const target of ['x.lock', 'a..b', 'z'.repeat(63)]) {
        const name = buildChangeBranchName('versionlock', target, what);
        names.push(name, `${name}-2`); // and the next generation of the same request
        expect(name.length).toBeLessThanOrEqual(200);
        expect(buildChangeBranchName('versionlock', target, what)).toBe(name);
      }
    }
    expect(invalidRefs(['bad..name', 'x.lock'])).toEqual(['bad..name', 'x.lock']); // the check can fail
    expect(invalidRefs(names)).toEqual([]);
    // Two long requests sharing their first 100 characters still get two branches.
    const long = 'p'.repeat(150);
    expect(buildChangeBranchName('versionlock', 'el7', `${long}-1`)).not.toBe(
      buildChangeBranchName('versionlock', 'el7', `${long}-2`),
    );
  });
});
