import { describe, expect, it } from 'vitest';
import { planVersionlockChange } from '../../../src/playbooks/versionlock/index.js';

const target = {
  name: 'es-el7',
  path: 'roles/es/files/versionlock.list',
  format: 'yum',
  releases: { elasticsearch: '1' },
  arch: '*',
} as const;

describe('planVersionlockChange', () => {
  it('gives the branch, title and diff of the change', () => {
    const plan = planVersionlockChange(target, '0:elasticsearch-7.9.3-1.*\n', {
      op: 'add',
      pkg: 'elasticsearch',
      version: '7.10.2',
    });
    expect(plan).toMatchObject({
      kind: 'change',
      target: 'es-el7',
      path: 'roles/es/files/versionlock.list',
      branch: 'opsbot/versionlock/es-el7/elasticsearch-7.10.2',
      title: 'versionlock: lock elasticsearch to 0:elasticsearch-7.10.2-1.* (was 0:elasticsearch-7.9.3-1.*)',
      after: '0:elasticsearch-7.10.2-1.*\n',
    });
    if (plan.kind !== 'change') return;
    expect(plan.diff).toBe(
      '--- a/roles/es/files/versionlock.list\n+++ b/roles/es/files/versionlock.list\n@@ -1 +1 @@\n-0:elasticsearch-7.9.3-1.*\n+0:elasticsearch-7.10.2-1.*\n',
    );
  });

  it('says nothing to do when already locked', () => {
    expect(
      planVersionlockChange(target, '0:elasticsearch-7.10.2-1.*\n', {
        op: 'add',
        pkg: 'elasticsearch',
        version: '7.10.2-1',
      }),
    ).toEqual({
      kind: 'nothing-to-do',
      target: 'es-el7',
      path: 'roles/es/files/versionlock.list',
      reason: 'already locked: 0:elasticsearch-7.10.2-1.*',
    });
  });
});
