import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { editVersionlock, listVersionlocks } from '../../../src/playbooks/versionlock/index.js';

const GROUP_VARS = `---
# group_vars/elastic.yml -- managed in infra/ansible
elastic_cluster_name: "logs-prod"   # do not rename
yum:
  repos:
    - elastic-7.x
  # versions pinned on every node, rendered into versionlock.list
  versionlock:
    - elasticsearch-7.10.2-1    # INFRA-1234
    - 'kibana-7.10.2-1'
    - elasticsearch-oss-7.10.2-1
    - python3-requests
  exclude_updates: true
heap_size: 16g
`;

const MODULE_LIST = `# used by roles/pin/tasks/main.yml with community.general.yum_versionlock
pinned_packages:
  - name: elasticsearch-0:7.10.2-1.*
    state: present
  - name: kibana-0:7.10.2-1.*
    state: present
other: 1
`;

const changed = (o: ReturnType<typeof editVersionlock>) => {
  if (o.kind !== 'changed') throw new Error(`expected a change, got ${o.reason}`);
  return o;
};

describe('ansible-vars list of strings', () => {
  const opts = { format: 'ansible-vars', key: 'yum.versionlock' } as const;

  it('replaces the entry in the style the list uses, keeping its comment and every other line', () => {
    const o = changed(
      editVersionlock(GROUP_VARS, { op: 'add', pkg: 'elasticsearch', version: '7.17.9-1' }, opts),
    );
    expect(o.after).toBe(
      GROUP_VARS.replace('- elasticsearch-7.10.2-1    #', '- elasticsearch-7.17.9-1    #'),
    );
    expect(parse(o.after).yum.versionlock).toEqual([
      'elasticsearch-7.17.9-1',
      'kibana-7.10.2-1',
      'elasticsearch-oss-7.10.2-1',
      'python3-requests',
    ]);
  });

  it('keeps the quoting of a replaced entry', () => {
    const o = changed(editVersionlock(GROUP_VARS, { op: 'add', pkg: 'kibana', version: '7.17.9-1' }, opts));
    expect(o.after).toBe(GROUP_VARS.replace("'kibana-7.10.2-1'", "'kibana-7.17.9-1'"));
  });

  it('appends a new entry after the last item with the same indentation', () => {
    const o = changed(editVersionlock(GROUP_VARS, { op: 'add', pkg: 'logstash', version: '7.10.2' }, opts));
    expect(o.after).toBe(
      GROUP_VARS.replace('    - python3-requests\n', '    - python3-requests\n    - logstash-7.10.2\n'),
    );
    const withRelease = changed(
      editVersionlock(
        GROUP_VARS,
        { op: 'add', pkg: 'logstash', version: '7.10.2' },
        { ...opts, releases: { logstash: '1' } },
      ),
    );
    expect(withRelease.line).toBe('logstash-7.10.2-1');
  });

  it('locks a bare name entry to a version', () => {
    const o = changed(
      editVersionlock(GROUP_VARS, { op: 'add', pkg: 'python3-requests', version: '2.20.0-3.el8' }, opts),
    );
    expect(o.removed).toEqual(['python3-requests']);
    expect(o.after).toContain('    - python3-requests-2.20.0-3.el8\n');
  });

  it('already locked / not locked are nothing to do', () => {
    expect(
      editVersionlock(GROUP_VARS, { op: 'add', pkg: 'elasticsearch', version: '7.10.2-1' }, opts),
    ).toMatchObject({
      kind: 'nothing-to-do',
      reason: 'already locked: elasticsearch-7.10.2-1',
    });
    expect(editVersionlock(GROUP_VARS, { op: 'remove', pkg: 'logstash' }, opts)).toMatchObject({
      kind: 'nothing-to-do',
    });
  });

  it('removes the whole item line and nothing else', () => {
    const o = changed(editVersionlock(GROUP_VARS, { op: 'remove', pkg: 'elasticsearch' }, opts));
    expect(o.after).toBe(GROUP_VARS.replace('    - elasticsearch-7.10.2-1    # INFRA-1234\n', ''));
  });

  it('keeps an empty list a list when its last entry goes', () => {
    const src = 'pins:\n  - foo-1.0\nnext: 2\n';
    const o = changed(
      editVersionlock(src, { op: 'remove', pkg: 'foo' }, { format: 'ansible-vars', key: 'pins' }),
    );
    expect(o.after).toBe('pins: []\nnext: 2\n');
    const back = changed(
      editVersionlock(
        o.after,
        { op: 'add', pkg: 'foo', version: '1.0' },
        { format: 'ansible-vars', key: 'pins' },
      ),
    );
    expect(back.after).toBe('pins: [foo-1.0]\nnext: 2\n');
  });

  it('edits a flow list on its own line only', () => {
    const src = 'a: 1\npins: [foo-1.0-1, bar-2.0-1]\nb: 2\n';
    const o = changed(
      editVersionlock(
        src,
        { op: 'add', pkg: 'bar', version: '2.1-1' },
        { format: 'ansible-vars', key: 'pins' },
      ),
    );
    expect(o.after).toBe('a: 1\npins: [foo-1.0-1, bar-2.1-1]\nb: 2\n');
  });

  it('refuses a missing key, a non-list and invalid YAML with a clear message', () => {
    expect(() =>
      editVersionlock(
        GROUP_VARS,
        { op: 'add', pkg: 'x', version: '1' },
        { format: 'ansible-vars', key: 'nope' },
      ),
    ).toThrow('key nope not found');
    expect(() =>
      editVersionlock(
        GROUP_VARS,
        { op: 'add', pkg: 'x', version: '1' },
        { format: 'ansible-vars', key: 'heap_size' },
      ),
    ).toThrow('heap_size is not a list');
    expect(() =>
      editVersionlock('a: [1\n', { op: 'add', pkg: 'x', version: '1' }, { format: 'ansible-vars', key: 'a' }),
    ).toThrow('not valid YAML');
  });

  it('lists the entries with their lines', () => {
    expect(listVersionlocks(GROUP_VARS, opts).map((e) => [e.line, e.name, e.version])).toEqual([
      [9, 'elasticsearch', '7.10.2'],
      [10, 'kibana', '7.10.2'],
      [11, 'elasticsearch-oss', '7.10.2'],
      [12, 'python3-requests', null],
    ]);
  });
});

describe('ansible-vars list of yum_versionlock items', () => {
  const opts = { format: 'ansible-vars', key: 'pinned_packages' } as const;

  it('replaces the name of the matching item in the list style (epoch, arch)', () => {
    const o = changed(editVersionlock(MODULE_LIST, { op: 'add', pkg: 'kibana', version: '7.17.9-1' }, opts));
    expect(o.after).toBe(MODULE_LIST.replace('kibana-0:7.10.2-1.*', 'kibana-0:7.17.9-1.*'));
  });

  it('adds a new item with state: present', () => {
    const o = changed(
      editVersionlock(MODULE_LIST, { op: 'add', pkg: 'logstash', version: '7.10.2-1' }, opts),
    );
    expect(o.after).toBe(
      MODULE_LIST.replace('other: 1\n', '  - name: logstash-0:7.10.2-1.*\n    state: present\nother: 1\n'),
    );
  });

  it('remove sets state: absent so the module really unlocks, then is nothing to do', () => {
    const o = changed(editVersionlock(MODULE_LIST, { op: 'remove', pkg: 'elasticsearch' }, opts));
    expect(o.after).toBe(
      MODULE_LIST.replace(
        '1.*\n    state: present\n  - name: kibana',
        '1.*\n    state: absent\n  - name: kibana',
      ),
    );
    expect(editVersionlock(o.after, { op: 'remove', pkg: 'elasticsearch' }, opts)).toMatchObject({
      kind: 'nothing-to-do',
    });
    const relock = changed(
      editVersionlock(o.after, { op: 'add', pkg: 'elasticsearch', version: '7.10.2-1' }, opts),
    );
    expect(relock.after).toBe(MODULE_LIST);
  });
});
