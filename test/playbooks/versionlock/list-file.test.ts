import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/core/errors.js';
import { unifiedDiff } from '../../../src/playbooks/diff.js';
import { editVersionlock, listVersionlocks } from '../../../src/playbooks/versionlock/index.js';

const EL7 = `# versionlock.list managed by infra/ansible - do not edit on hosts
# Elastic stack pinned until the 7.17 upgrade (INFRA-1234)
0:elasticsearch-7.9.3-1.*
0:elasticsearch-oss-7.10.2-1.*
0:kibana-7.9.3-1.*

# kernel: stay on the certified build
0:kernel-3.10.0-1160.53.1.el7.x86_64
!0:kernel-3.10.0-1160.59.1.el7.*
  0:java-1.8.0-openjdk-headless-1.8.0.362.b08-1.el7_9.x86_64   
this line is not a lock but must survive
`;

const DNF = `# Added lock on Tue Mar  5 10:12:01 2024
elasticsearch-0:7.10.2-1.*
# Added lock on Tue Mar  5 10:12:09 2024
python3-requests-0:2.20.0-3.el8_8.*
!kernel-0:4.18.0-513.24.1.el8_9.*
`;

const changed = (o: ReturnType<typeof editVersionlock>) => {
  if (o.kind !== 'changed') throw new Error(`expected a change, got ${o.reason}`);
  return o;
};

describe('yum (EL7) versionlock.list', () => {
  it('replaces the lock of the same package in place and touches nothing else', () => {
    const o = changed(
      editVersionlock(EL7, { op: 'add', pkg: 'elasticsearch', version: '7.10.2-1' }, { format: 'yum' }),
    );
    expect(o.line).toBe('0:elasticsearch-7.10.2-1.*');
    expect(o.removed).toEqual(['0:elasticsearch-7.9.3-1.*']);
    expect(o.after).toBe(EL7.replace('0:elasticsearch-7.9.3-1.*', '0:elasticsearch-7.10.2-1.*'));
    expect(o.summary).toBe(
      'lock elasticsearch to 0:elasticsearch-7.10.2-1.* (was 0:elasticsearch-7.9.3-1.*)',
    );
    // elasticsearch-oss is another package: untouched
    expect(o.after).toContain('0:elasticsearch-oss-7.10.2-1.*');
  });

  it('answers "already locked" for what is already there, arch aside (yum ignores it)', () => {
    const o = editVersionlock(
      EL7,
      { op: 'add', pkg: 'kernel', version: '3.10.0-1160.53.1.el7' },
      { format: 'yum' },
    );
    expect(o).toEqual({
      kind: 'nothing-to-do',
      op: 'add',
      pkg: 'kernel',
      reason: 'already locked: 0:kernel-3.10.0-1160.53.1.el7.x86_64',
    });
  });

  it('appends a new lock at the end with the epoch and the configured arch', () => {
    const o = changed(
      editVersionlock(
        EL7,
        { op: 'add', pkg: 'nginx', version: '1:1.20.1-10.el7' },
        { format: 'yum', arch: 'x86_64' },
      ),
    );
    expect(o.after).toBe(`${EL7}1:nginx-1.20.1-10.el7.x86_64\n`);
  });

  it('takes the release from the per-package default, and refuses to guess one', () => {
    const o = changed(
      editVersionlock(
        EL7,
        { op: 'add', pkg: 'logstash', version: '7.10.2' },
        { format: 'yum', releases: { logstash: '1' } },
      ),
    );
    expect(o.line).toBe('0:logstash-7.10.2-1.*');
    expect(() =>
      editVersionlock(EL7, { op: 'add', pkg: 'logstash', version: '7.10.2' }, { format: 'yum' }),
    ).toThrow(
      'yum versionlock needs the release: give 7.10.2-<release> or set targets.versionlock[].releases.logstash',
    );
  });

  it('refuses a glob release for yum: it would lock to nothing', () => {
    try {
      editVersionlock(EL7, { op: 'add', pkg: 'kibana', version: '7.10.2-*' }, { format: 'yum' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('bad_input');
      expect((err as AppError).userMessage).toContain('locks to nothing');
    }
  });

  it('removes only the lock lines, keeping the exclude and the odd-spaced line', () => {
    const o = changed(editVersionlock(EL7, { op: 'remove', pkg: 'kernel' }, { format: 'yum' }));
    expect(o.after).toBe(EL7.replace('0:kernel-3.10.0-1160.53.1.el7.x86_64\n', ''));
    expect(unifiedDiff('versionlock.list', EL7, o.after)).toContain(
      '-0:kernel-3.10.0-1160.53.1.el7.x86_64\n',
    );
    const java = changed(
      editVersionlock(EL7, { op: 'remove', pkg: 'java-1.8.0-openjdk-headless' }, { format: 'yum' }),
    );
    expect(java.removed).toEqual(['0:java-1.8.0-openjdk-headless-1.8.0.362.b08-1.el7_9.x86_64']);
  });

  it('removing what is not locked is nothing to do', () => {
    expect(editVersionlock(EL7, { op: 'remove', pkg: 'elastic' }, { format: 'yum' })).toMatchObject({
      kind: 'nothing-to-do',
      reason: 'not locked: no versionlock entry for elastic',
    });
  });

  it('lists locks and excludes with their lines; unknown lines are skipped, not lost', () => {
    const entries = listVersionlocks(EL7, { format: 'yum' });
    expect(entries.map((e) => [e.line, e.name, e.exclude])).toEqual([
      [3, 'elasticsearch', false],
      [4, 'elasticsearch-oss', false],
      [5, 'kibana', false],
      [8, 'kernel', false],
      [9, 'kernel', true],
      [10, 'java-1.8.0-openjdk-headless', false],
    ]);
  });

  it('keeps CRLF line endings and a missing final newline', () => {
    const crlf = '# pins\r\n0:kibana-7.9.3-1.*\r\n0:nginx-1.20.1-10.el7.*';
    const o = changed(
      editVersionlock(crlf, { op: 'add', pkg: 'kibana', version: '7.10.2-1' }, { format: 'yum' }),
    );
    expect(o.after).toBe('# pins\r\n0:kibana-7.10.2-1.*\r\n0:nginx-1.20.1-10.el7.*');
    const added = changed(
      editVersionlock(crlf, { op: 'add', pkg: 'zsh', version: '5.0.2-34.el7' }, { format: 'yum' }),
    );
    expect(added.after).toBe(`${crlf}\r\n0:zsh-5.0.2-34.el7.*`);
    const removed = changed(editVersionlock(crlf, { op: 'remove', pkg: 'nginx' }, { format: 'yum' }));
    expect(removed.after).toBe('# pins\r\n0:kibana-7.9.3-1.*');
  });

  it('collapses several locks of one package into the new one', () => {
    const two = '0:foo-1.0-1.*\n# keep\n0:foo-1.1-1.*\n';
    const o = changed(editVersionlock(two, { op: 'add', pkg: 'foo', version: '2.0-1' }, { format: 'yum' }));
    expect(o.after).toBe('0:foo-2.0-1.*\n# keep\n');
  });
});

describe('dnf (EL8/9) versionlock.list', () => {
  it('writes NAME-EPOCH:VERSION-RELEASE.ARCH, release * when not given', () => {
    const o = changed(
      editVersionlock(DNF, { op: 'add', pkg: 'kibana', version: '7.10.2' }, { format: 'dnf' }),
    );
    expect(o.line).toBe('kibana-0:7.10.2-*.*');
    expect(o.after).toBe(`${DNF}kibana-0:7.10.2-*.*\n`);
  });

  it('replaces by parsed name and answers already locked for the same version', () => {
    const o = changed(
      editVersionlock(
        DNF,
        { op: 'add', pkg: 'python3-requests', version: '2.25.1-1.el8' },
        { format: 'dnf' },
      ),
    );
    expect(o.after).toBe(
      DNF.replace('python3-requests-0:2.20.0-3.el8_8.*', 'python3-requests-0:2.25.1-1.el8.*'),
    );
    expect(
      editVersionlock(DNF, { op: 'add', pkg: 'elasticsearch', version: '7.10.2' }, { format: 'dnf' }),
    ).toMatchObject({
      kind: 'nothing-to-do',
      reason: 'already locked: elasticsearch-0:7.10.2-1.*',
    });
    expect(
      editVersionlock(DNF, { op: 'add', pkg: 'elasticsearch', version: '0:7.10.2-1' }, { format: 'dnf' }),
    ).toMatchObject({
      kind: 'nothing-to-do',
    });
  });

  it('accepts a release glob for dnf', () => {
    const o = changed(
      editVersionlock(DNF, { op: 'add', pkg: 'elasticsearch', version: '7.17.9-*' }, { format: 'dnf' }),
    );
    expect(o.line).toBe('elasticsearch-0:7.17.9-*.*');
  });

  it('creates the list when the file does not exist yet', () => {
    const o = changed(
      editVersionlock(null, { op: 'add', pkg: 'nginx', version: '1.20.1-1.el8' }, { format: 'dnf' }),
    );
    expect(o.after).toBe('nginx-0:1.20.1-1.el8.*\n');
  });
});
