import { describe, expect, it } from 'vitest';
import { analyze } from '../../../src/playbooks/why-reboot/analyze.js';
import type { Restart, WhyRebootReport } from '../../../src/playbooks/why-reboot/types.js';
import { at, by, corpusEntries, evidence, failed, guestLines, instanceInfo, ok } from './helpers.js';

const NOW = new Date('2026-05-04T00:00:00Z');
const one = (entry: string) => {
  const [e] = corpusEntries(entry);
  if (!e) throw new Error(`no entry in ${entry}`);
  return e;
};
const verdict = (r: WhyRebootReport): Restart => {
  if (r.verdict.cause === 'no-restart') throw new Error(`expected a restart, got: ${r.verdict.summary}`);
  return r.verdict as Restart;
};
const bootLines = (ts: string) =>
  guestLines([
    [
      ts,
      'Dec 14 01:53:25 instance-1 kernel: [    0.000000] Linux version 5.10.0-26-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 5.10.197-1',
    ],
    [
      ts,
      'Dec 14 01:53:25 instance-1 kernel: [    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-5.10.0-26-cloud-amd64 root=UUID=e6fe ro console=ttyS0,115200',
    ],
  ]);

describe('analyze: platform causes (real audit entries from the corpus)', () => {
  it('host error then automatic restart ~3 min later is ONE host-error restart, high, with the boot and no guest blame', () => {
    const hostError = one('HostErrorEvent.json'); // 2019-12-14T01:50:03.626Z
    const restart = at(one('AutomaticRestartEvent.json'), '2019-12-14T01:53:10.562Z');
    const guest = [
      ...bootLines('2019-12-14T01:53:25Z'),
      // boot noise printed by every GCE boot: must not count as a shutdown
      ...guestLines([
        ['2019-12-14T01:53:27Z', 'kernel: [    2.832340] ACPI: Power Button [PWRF]'],
        ['2019-12-14T01:53:30Z', 'systemd[1]: Starting Google Compute Engine Shutdown Scripts...'],
        ['2019-12-14T01:53:30Z', 'systemd[1]: Finished Google Compute Engine Shutdown Scripts.'],
      ]),
    ];
    const report = analyze(
      evidence('2019-12-14T01:50:00Z', { auditEntries: [restart, hostError], guestEvents: guest }),
      { now: new Date('2019-12-14T09:00:00Z') },
    );
    expect(report.restarts).toHaveLength(1);
    const v = verdict(report);
    expect(v.cause).toBe('host-error');
    expect(v.confidence).toBe('high');
    expect(v.actor).toBeNull();
    expect(v.at).toBe('2019-12-14T01:50:03.626Z');
    expect(v.bootAt).toBe('2019-12-14T01:53:25.000Z');
    expect(v.downtimeSeconds).toBe(201);
    expect(v.summary).toBe(
      'Compute Engine host error at 01:50:03 UTC; Google restarted the VM automatically 3 min later; nothing wrong in the guest.',
    );
    expect(v.evidence.map((e) => e.text)).toEqual(
      expect.arrayContaining([
        'compute.instances.hostError by system',
        'compute.instances.automaticRestart by system',
      ]),
    );
    expect(v.nextSteps.join(' ')).toMatch(/automaticRestart/);
    expect(v.nextSteps.join(' ')).toMatch(/managed instance group|zones/);
  });

  it.each([
    ['InstancePreemptedEvent.json', 'preemption', /preempted/],
    ['GuestTerminateEvent.json', 'guest-shutdown', /powered itself off/],
    ['TerminateOnHostMaintenanceEvent.json', 'host-maintenance', /maintenance/i],
    ['RecreateInstanceEvent.json', 'mig-recreate', /managed instance group/],
  ] as const)('%s -> %s (high)', (file, cause, summary) => {
    const e = one(file);
    const report = analyze(evidence(e.timestamp, { auditEntries: corpusEntries(file) }), { now: NOW });
    const v = verdict(report);
    expect(v.cause).toBe(cause);
    expect(v.confidence).toBe('high');
    expect(v.summary).toMatch(summary);
    expect(v.at).toBe(new Date(e.timestamp).toISOString());
    expect(v.nextSteps.length).toBeGreaterThan(0);
  });

  it('API reset -> user-reset with the caller as actor; the boot a minute later is the same restart', () => {
    const reset = by(one('ResetInstanceEvent.json'), 'alice@example.com'); // 2020-05-11T14:41:30.863Z
    const report = analyze(
      evidence(reset.timestamp, { auditEntries: [reset], guestEvents: bootLines('2020-05-11T14:42:05Z') }),
      { now: NOW },
    );
    expect(report.restarts).toHaveLength(1);
    const v = verdict(report);
    expect(v.cause).toBe('user-reset');
    expect(v.actor).toBe('alice@example.com');
    expect(v.bootAt).toBe('2020-05-11T14:42:05.000Z');
    expect(v.summary).toMatch(/alice@example\.com reset the VM/);
  });

  it('stop (v1 + beta copies of one operation) then start -> one user-stop with downtime', () => {
    const stops = corpusEntries('BetaStopInstanceEvent.json').map((e) => by(e, 'bob@example.com')); // 08:49:27
    const start = by(one('StartInstanceEvent.json'), 'bob@example.com'); // 2020-05-04T13:56:26.405Z
    const report = analyze(evidence('2020-05-04T10:00:00Z', { auditEntries: [...stops, start] }), {
      now: NOW,
    });
    expect(report.restarts).toHaveLength(1);
    const v = verdict(report);
    expect(v.cause).toBe('user-stop');
    expect(v.actor).toBe('bob@example.com');
    expect(v.confidence).toBe('high');
    expect(v.bootAt).toBe('2020-05-04T13:56:26.405Z');
    expect(v.downtimeSeconds).toBe(
      Math.round((Date.parse(start.timestamp) - Date.parse('2020-05-04T08:49:27.470Z')) / 1000),
    );
    expect(v.summary).toMatch(/bob@example\.com stopped the VM through the API/);
  });

  it('gcpdiag gce5: instance schedule stops -> scheduled-stop by the compute-system agent (entries of other VMs ignored)', () => {
    const entries = corpusEntries('gce5-logging-entries-1.json');
    const report = analyze(
      evidence('2025-03-17T12:00:00Z', {
        instanceName: 'start-and-stop-vm',
        project: 'gcpdiag-gce5-aaaa',
        auditEntries: entries,
      }),
      { now: new Date('2025-03-18T00:00:00Z') },
    );
    expect(report.restarts.length).toBeGreaterThan(10);
    expect(new Set(report.restarts.map((r) => r.cause))).toEqual(new Set(['scheduled-stop']));
    const v = verdict(report);
    expect(v.actor).toBe('service-123456012345@compute-system.iam.gserviceaccount.com');
    expect(v.confidence).toBe('high');
    expect(v.at).toBe('2025-03-17T23:05:00.419Z');
    expect(v.bootAt).toBeNull();
    expect(v.summary).toMatch(/^An instance schedule stopped the VM at Mar 17 23:05:00 UTC/);
    // The schedule's start (ScheduledVMs, operationType start) ends the previous stop: downtime is known.
    const earlier = report.restarts.find((r) => r.at.startsWith('2025-03-17T05:05'));
    expect(earlier?.bootAt).toMatch(/^2025-03-17T06:00:0\d/);
    expect(earlier?.downtimeSeconds).toBeGreaterThan(50 * 60);
    expect(v.evidence.some((e) => e.text.startsWith('ScheduledVMs (stop)'))).toBe(true);
    expect(report.notes.join(' ')).toMatch(/other instances \(.*spot-vm-termination/);
    // newest first
    const times = report.restarts.map((r) => Date.parse(r.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('gcpdiag gce5: the Spot VM preempted at 06:00:14 is a preemption among its schedule stops', () => {
    const entries = corpusEntries('gce5-logging-entries-1.json');
    const report = analyze(
      evidence('2025-03-17T12:00:00Z', { instanceName: 'spot-vm-termination', auditEntries: entries }),
      { now: new Date('2025-03-18T00:00:00Z') },
    );
    const preemptions = report.restarts.filter((r) => r.cause === 'preemption');
    expect(preemptions).toHaveLength(1);
    expect(preemptions[0]?.at).toBe('2025-03-17T06:00:14.413Z');
    expect(preemptions[0]?.evidence.some((e) => e.text.includes('Instance was preempted.'))).toBe(true);
  });

  it('an unknown system_event method is reported as "other platform event", never dropped', () => {
    const e = one('GenericSystemEvent.json'); // compute.instances.unknown 2020-05-11T15:56:44.808Z
    const report = analyze(
      evidence(e.timestamp, { auditEntries: [e], guestEvents: bootLines('2020-05-11T15:58:00Z') }),
      { now: NOW },
    );
    expect(
      report.timeline.some((i) => i.text.startsWith('other platform event compute.instances.unknown')),
    ).toBe(true);
    const v = verdict(report);
    expect(v.cause).toBe('unknown');
    expect(v.summary).toMatch(/other platform event \(compute\.instances\.unknown\)/);
  });

  it('matches the name exactly: entries of web-10 are not web-1', () => {
    const e = one('HostErrorEvent.json');
    const other = {
      ...e,
      resource: {
        type: 'gce_instance',
        labels: { instance_id: '999', zone: 'us-central1-a', project_id: 'project-1' },
      },
      protoPayload: {
        ...e.protoPayload,
        resourceName: 'projects/project-1/zones/us-central1-a/instances/instance-10',
      },
    };
    const report = analyze(evidence(e.timestamp, { auditEntries: [other] }), { now: NOW });
    expect(report.verdict.cause).toBe('no-restart');
  });
});

describe('analyze: guest-only causes', () => {
  it('orderly shutdown then boot, no platform event -> guest-reboot (medium)', () => {
    const guest = guestLines([
      [
        '2026-05-03T10:00:01Z',
        'May  3 10:00:01 web-1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/sbin/reboot',
      ],
      ['2026-05-03T10:00:02Z', 'May  3 10:00:02 web-1 systemd-logind[501]: System is rebooting.'],
      ['2026-05-03T10:00:04Z', 'May  3 10:00:04 web-1 systemd[1]: Reached target Shutdown.'],
      [
        '2026-05-03T10:00:05Z',
        'May  3 10:00:05 web-1 rsyslogd: [origin software="rsyslogd"] exiting on signal 15.',
      ],
      [
        '2026-05-03T10:00:31Z',
        'May  3 10:00:31 web-1 kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64',
      ],
    ]);
    const report = analyze(evidence('2026-05-03T10:00:00Z', { guestEvents: guest }), { now: NOW });
    expect(report.restarts).toHaveLength(1);
    const v = verdict(report);
    expect(v.cause).toBe('guest-reboot');
    expect(v.confidence).toBe('medium');
    expect(v.actor).toBeNull();
    expect(v.at).toBe('2026-05-03T10:00:01.000Z');
    expect(v.bootAt).toBe('2026-05-03T10:00:31.000Z');
    expect(v.downtimeSeconds).toBe(26);
    expect(v.evidence.some((e) => e.text.includes('COMMAND=/usr/sbin/reboot'))).toBe(true);
  });

  it('power-off from inside the guest, started again later -> guest-shutdown', () => {
    const guest = guestLines([
      ['2026-05-03T09:00:00Z', 'systemd-logind[501]: System is powering down.'],
      ['2026-05-03T09:00:02Z', 'systemd[1]: Reached target Power-Off.'],
      ['2026-05-03T13:00:00Z', 'kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64'],
    ]);
    const v = verdict(analyze(evidence('2026-05-03T10:00:00Z', { guestEvents: guest }), { now: NOW }));
    expect(v.cause).toBe('guest-shutdown');
    expect(v.confidence).toBe('medium');
  });

  it('OOM kills then a boot with no orderly shutdown -> kernel-panic "after OOM"', () => {
    const guest = guestLines([
      [
        '2026-05-03T08:10:00Z',
        'kernel: [812345.1] java invoked oom-killer: gfp_mask=0x100cca(GFP_HIGHUSER_MOVABLE), order=0, oom_score_adj=0',
      ],
      [
        '2026-05-03T08:10:00Z',
        'kernel: [812345.2] Out of memory: Killed process 4242 (java) total-vm:9000000kB',
      ],
      ['2026-05-03T08:12:30Z', 'kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64'],
    ]);
    const v = verdict(analyze(evidence('2026-05-03T08:00:00Z', { guestEvents: guest }), { now: NOW }));
    expect(v.cause).toBe('kernel-panic');
    expect(v.summary).toMatch(/after OOM/);
    expect(v.confidence).toBe('medium');
    expect(v.nextSteps.join(' ')).toMatch(/memory limits/);
  });

  it('a lockup then a boot -> kernel-panic "after lockup"', () => {
    const guest = guestLines([
      [
        '2026-05-03T08:10:00Z',
        'kernel: [1000.1] INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds.',
      ],
      ['2026-05-03T08:11:00Z', 'kernel: [1060.1] Kernel panic - not syncing: hung_task: blocked tasks'],
      ['2026-05-03T08:12:30Z', 'kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64'],
    ]);
    const v = verdict(analyze(evidence('2026-05-03T08:00:00Z', { serialEvents: guest }), { now: NOW }));
    expect(v.cause).toBe('kernel-panic');
    expect(v.summary).toMatch(/kernel panic after lockup/);
  });

  it('a kernel panic, then someone resets the hung VM -> kernel-panic, actor = who reset', () => {
    const reset = by(one('ResetInstanceEvent.json'), 'oncall@example.com'); // 2020-05-11T14:41:30.863Z
    const guest = guestLines(
      [['2020-05-11T14:20:00Z', '[ 9999.1] Kernel panic - not syncing: Fatal exception']],
      'serial-console',
    );
    const v = verdict(
      analyze(evidence(reset.timestamp, { auditEntries: [reset], serialEvents: guest }), { now: NOW }),
    );
    expect(v.cause).toBe('kernel-panic');
    expect(v.actor).toBe('oncall@example.com');
    expect(v.confidence).toBe('high');
  });

  it('a boot with nothing before it -> unknown (low)', () => {
    const v = verdict(
      analyze(evidence('2026-05-03T08:00:00Z', { guestEvents: bootLines('2026-05-03T08:00:00Z') }), {
        now: NOW,
      }),
    );
    expect(v.cause).toBe('unknown');
    expect(v.confidence).toBe('low');
    expect(v.nextSteps.join(' ')).toMatch(/serial console/);
  });

  it('lastStartTimestamp in the window with no other evidence is a restart too', () => {
    const report = analyze(
      evidence('2026-05-03T08:00:00Z', {
        instance: instanceInfo({ lastStartTimestamp: '2026-05-03T01:02:03.000-07:00' }),
        sources: [ok('instance'), ok('audit-logs')],
      }),
      { now: NOW },
    );
    const v = verdict(report);
    expect(v.cause).toBe('unknown');
    expect(v.bootAt).toBe('2026-05-03T08:02:03.000Z');
    expect(v.evidence.some((e) => e.source === 'instance')).toBe(true);
  });
});

describe('analyze: negatives and traps', () => {
  it('nothing at all -> no-restart', () => {
    const report = analyze(evidence('2026-05-03T08:00:00Z'), { now: NOW });
    expect(report.verdict.cause).toBe('no-restart');
    expect(report.verdict.confidence).toBe('high');
    expect(report.restarts).toEqual([]);
  });

  it('no-restart dates both ends of a window that spans days (the end is "now", not a bare clock)', () => {
    const to = new Date('2026-11-08T19:47:43Z');
    const window = { from: new Date('2026-11-01T19:47:43Z'), to };
    const spanning = analyze({ ...evidence('2026-11-05T00:00:00Z'), window }, { now: to });
    expect(spanning.verdict.summary).toContain('between Nov 1 19:47:43 UTC and Nov 8 19:47:43 UTC');
    const hour = { from: new Date('2026-11-08T18:47:43Z'), to };
    const today = analyze({ ...evidence('2026-11-08T00:00:00Z'), window: hour }, { now: to });
    expect(today.verdict.summary).toContain('between 18:47:43 UTC and 19:47:43 UTC');
  });

  it("logrotate's syslog restart alone -> no-restart", () => {
    const guest = guestLines([
      ['2026-05-03T00:00:01Z', 'May  3 00:00:01 web-1 syslogd 1.5.0: restart.'],
      [
        '2026-05-03T00:00:02Z',
        'May  3 00:00:02 web-1 rsyslogd: [origin software="rsyslogd" swVersion="8.2102.0"] rsyslogd was HUPed',
      ],
      [
        '2026-05-03T00:00:02Z',
        'May  3 00:00:02 web-1 rsyslogd: [origin software="rsyslogd"] exiting on signal 15.',
      ],
    ]);
    const report = analyze(evidence('2026-05-03T08:00:00Z', { guestEvents: guest }), { now: NOW });
    expect(report.verdict.cause).toBe('no-restart');
  });

  it('live migration only -> no-restart, with the migration in the timeline and the summary', () => {
    const e = one('MigrateOnHostMaintenanceEvent.json');
    const report = analyze(evidence(e.timestamp, { auditEntries: [e] }), { now: NOW });
    expect(report.verdict.cause).toBe('no-restart');
    expect(report.verdict.summary).toMatch(/live migration/);
    expect(
      report.timeline.some(
        (i) => i.text.includes('migrateOnHostMaintenance') && i.text.includes('no restart'),
      ),
    ).toBe(true);
  });

  it('a failed source lowers confidence and is reported failed', () => {
    const guest = guestLines([
      ['2026-05-03T10:00:02Z', 'systemd-logind[501]: System is rebooting.'],
      ['2026-05-03T10:00:04Z', 'systemd[1]: Reached target Shutdown.'],
      ['2026-05-03T10:00:31Z', 'kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64'],
    ]);
    const sources = [failed('audit-logs', 'timed out after 20 s'), ok('guest-logs')];
    const report = analyze(evidence('2026-05-03T10:00:00Z', { guestEvents: guest, sources }), { now: NOW });
    const v = verdict(report);
    expect(v.cause).toBe('guest-reboot');
    expect(v.confidence).toBe('low');
    expect(report.sources.find((s) => s.name === 'audit-logs')?.status).toBe('failed');
    expect(report.notes.join(' ')).toMatch(/audit-logs: timed out after 20 s/);

    const quiet = analyze(
      evidence('2026-05-03T10:00:00Z', {
        sources: [ok('audit-logs'), failed('guest-logs', 'permission denied')],
      }),
      { now: NOW },
    );
    expect(quiet.verdict.cause).toBe('no-restart');
    expect(quiet.verdict.confidence).not.toBe('high');
  });

  it('a failed source lowers the confidence only where it could change the answer', () => {
    // The host error is the platform's own record: guest logs denied (403) leave it high, and say so.
    const hostError = one('HostErrorEvent.json');
    const guestDenied = [ok('instance'), ok('audit-logs'), failed('guest-logs', 'permission denied (403)')];
    const host = verdict(
      analyze(evidence('2019-12-14T01:50:00Z', { auditEntries: [hostError], sources: guestDenied }), {
        now: NOW,
      }),
    );
    expect(host).toMatchObject({ cause: 'host-error', confidence: 'high' });
    expect(host.summary).toContain('the guest logs could not be read, so the guest side is unchecked');
    // A reset is different: a panic in the guest (which only the guest shows) is often why it was reset.
    const reset = by(one('ResetInstanceEvent.json'), 'alice@example.com');
    const r = verdict(
      analyze(evidence(reset.timestamp, { auditEntries: [reset], sources: guestDenied }), { now: NOW }),
    );
    expect(r).toMatchObject({ cause: 'user-reset', confidence: 'medium' });
    expect(r.summary).toMatch(/confidence lowered: guest-logs failed/);
  });

  it('shutdown-like lines printed during boot are noise: the next boot is not a guest-reboot', () => {
    const noise = (ts: string) => ({
      at: new Date(ts),
      signal: 'shutdown' as const,
      text: 'systemd[1]: Reached target Shutdown services (boot-time)',
      source: 'guest-logs' as const,
      ref: 'x',
      timeInferred: false,
    });
    const guest = [
      ...bootLines('2026-05-03T08:00:00Z'),
      noise('2026-05-03T08:00:40Z'),
      noise('2026-05-03T08:00:41Z'),
      ...guestLines([
        ['2026-05-03T08:00:41Z', 'systemd[1]: Starting Google Compute Engine Shutdown Scripts...'],
        [
          '2026-05-03T08:00:42Z',
          'kernel: [    2.8] input: Power Button as /devices/LNXSYSTM:00/LNXPWRBN:00/input/input2',
        ],
      ]),
      ...bootLines('2026-05-03T08:20:00Z'),
    ];
    const report = analyze(evidence('2026-05-03T08:00:00Z', { guestEvents: guest }), { now: NOW });
    expect(report.restarts).toHaveLength(2);
    expect(report.restarts.map((r) => r.cause)).toEqual(['unknown', 'unknown']);
    expect(report.notes.join(' ')).toMatch(/boot noise/);
    expect(report.timeline.some((i) => i.text.includes('(boot noise, ignored)'))).toBe(true);
  });

  it('year-less timestamps -> a note saying times were inferred', () => {
    const guest = guestLines(
      [
        ['2026-05-03T10:00:02Z', 'May  3 10:00:02 web-1 systemd-logind[501]: System is rebooting.'],
        [
          '2026-05-03T10:00:31Z',
          'May  3 10:00:31 web-1 kernel: [    0.000000] Linux version 5.10.0-28-cloud-amd64',
        ],
      ],
      'syslog-file',
      true,
    );
    const report = analyze(
      evidence('2026-05-03T10:00:00Z', { guestEvents: guest, sources: [ok('syslog-file')] }),
      { now: NOW },
    );
    expect(report.notes.join(' ')).toMatch(/no year/);
    expect(verdict(report).evidence.some((e) => e.text.endsWith('(time inferred)'))).toBe(true);
  });

  it('links: Logs Explorer with the exact audit filter and the instance console page', () => {
    const e = one('HostErrorEvent.json');
    const report = analyze(evidence(e.timestamp, { auditEntries: [e], instance: instanceInfo() }), {
      now: NOW,
    });
    const explorer = report.links.find((l) =>
      l.url.startsWith('https://console.cloud.google.com/logs/query;query='),
    );
    expect(explorer?.url).toContain(encodeURIComponent('resource.labels.instance_id="2162224123123123213"'));
    expect(explorer?.url).toContain('?project=project-1');
    expect(report.links.map((l) => l.url)).toContain(
      'https://console.cloud.google.com/compute/instancesDetail/zones/us-central1-a/instances/instance-1?project=project-1',
    );
  });
});
