import type { InstanceInfo } from '../../integrations/gce/port.js';
import type { Cause } from './types.js';

/** Wording of /why-reboot: time formatting and the next steps an SRE would give for each cause. */

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

export const clockOf = (at: Date): string =>
  `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())}:${pad(at.getUTCSeconds())} UTC`;

/** "23:31:40 UTC" within a day of now, else "May 3 23:31:40 UTC" (plus the year when it differs). */
export const formatWhen = (at: Date, now: Date): string => {
  const age = Math.abs(now.getTime() - at.getTime());
  if (age < 20 * 3600_000 && at.getUTCDate() === now.getUTCDate()) return clockOf(at);
  const year = at.getUTCFullYear() === now.getUTCFullYear() ? '' : ` ${at.getUTCFullYear()}`;
  return `${MONTHS[at.getUTCMonth()]} ${at.getUTCDate()}${year} ${clockOf(at)}`;
};

const dayOf = (d: Date): string => d.toISOString().slice(0, 10);

/**
 * A time range: both ends dated whenever they fall on different UTC days ("Nov 1 19:47:43 UTC and Nov 8
 * 19:47:43 UTC"); within one day, the day once ("Nov 1 10:00:00 UTC and 12:00:00 UTC", or clocks only today).
 */
export const formatRange = (from: Date, to: Date, now: Date): string => {
  if (dayOf(from) === dayOf(to)) return `${formatWhen(from, now)} and ${clockOf(to)}`;
  const dated = (d: Date): string => {
    const year = d.getUTCFullYear() === now.getUTCFullYear() ? '' : ` ${d.getUTCFullYear()}`;
    return `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}${year} ${clockOf(d)}`;
  };
  return `${dated(from)} and ${dated(to)}`;
};

export const formatDuration = (seconds: number): string => {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
  return `${Math.round(hours / 24)} days`;
};

const MIG_ADVICE =
  'If this VM must survive single-host failures, run it in a regional managed instance group or spread replicas across zones behind a load balancer.';

/** Concrete next steps per cause; `detail` refines them (OOM vs lockup, automaticRestart off, ...). */
export const nextStepsFor = (
  cause: Cause,
  instance: InstanceInfo | null,
  detail: { oom?: boolean; lockup?: boolean; panic?: boolean; stillDown?: boolean; diskFull?: boolean } = {},
): string[] => {
  const steps: string[] = [];
  const scheduling = instance?.scheduling;
  switch (cause) {
    case 'host-error':
      steps.push(
        'Nothing to fix in the guest: the physical host failed and Compute Engine restarted the VM.',
      );
      if (scheduling?.automaticRestart === false) {
        steps.push(
          '`scheduling.automaticRestart` is false: the VM stays TERMINATED after a host error. Set it to true unless that is deliberate.',
        );
      } else {
        steps.push(
          'Keep `scheduling.automaticRestart: true` so Compute Engine restarts the VM after host errors.',
        );
      }
      steps.push(
        'Check that services came back by themselves after boot (systemd units enabled, mounts in fstab with nofail).',
      );
      steps.push(MIG_ADVICE);
      steps.push(
        'Repeated host errors on the same VM: open a support case with the instance id and the times above.',
      );
      break;
    case 'host-maintenance':
      steps.push(
        'The VM has `onHostMaintenance: TERMINATE` (GPUs or that setting), so host maintenance stops it instead of live-migrating it.',
      );
      steps.push(
        'Watch `resourceStatus.upcomingMaintenance` (or the maintenance-event metadata key) and drain the VM before the window.',
      );
      steps.push(
        'Use `onHostMaintenance: MIGRATE` where the machine type allows it; otherwise keep `automaticRestart: true`.',
      );
      steps.push(MIG_ADVICE);
      break;
    case 'preemption':
      steps.push(
        'This is a Spot/preemptible VM: Compute Engine may reclaim it at any time; that is expected, not a fault.',
      );
      steps.push(
        'Make the workload tolerate it (checkpointing, a shutdown script within the 30 s notice) or run it as a standard VM.',
      );
      steps.push('Use a managed instance group so reclaimed VMs are recreated automatically.');
      break;
    case 'guest-shutdown':
      steps.push(
        'The guest OS powered itself off: look for who ran `shutdown`/`poweroff` (`last -x`, `journalctl -b -1`, auth logs) or an agent that did.',
      );
      steps.push(
        'Check ACPI/UPS or watchdog daemons and configuration management that may power the VM off.',
      );
      if (detail.stillDown) steps.push('The VM is still stopped: start it when the cause is understood.');
      break;
    case 'guest-reboot':
      steps.push(
        'The reboot came from inside the guest (the platform does not log it): find who or what ran it with `last -x reboot`, `journalctl -b -1 -e` and the auth log (sudo).',
      );
      steps.push(
        'Check unattended upgrades (`/var/log/unattended-upgrades`, `needrestart`, `dnf-automatic`) and configuration management runs at that time.',
      );
      break;
    case 'kernel-panic':
      if (detail.oom) {
        steps.push(
          'The guest ran out of memory before it died: check which process the OOM killer chose and its memory growth; set memory limits (systemd `MemoryMax=`, cgroups, JVM heap) or move to a larger machine type.',
        );
        steps.push(
          'Check `vm.panic_on_oom` and `kernel.panic` sysctls: they decide whether an OOM hangs or reboots the VM.',
        );
      }
      if (detail.lockup) {
        steps.push(
          'The kernel reported a lockup/hung task: look for storage stalls (disk throughput limits, PD latency) and CPU starvation before the crash.',
        );
      }
      steps.push(
        'Read the serial console (port 1) around the crash for the full panic trace; enable kdump to capture the next one.',
      );
      steps.push('Check the running kernel version against known bugs and update it.');
      break;
    case 'user-reset':
      steps.push(
        'Someone reset the VM through the API (a hard reset, no clean shutdown): ask the actor why, and check for file-system damage or lost writes.',
      );
      steps.push(
        'If the reset was a reaction to a hang, look at the guest logs and serial console before it for the hang itself.',
      );
      break;
    case 'user-stop':
      steps.push(
        'The VM was stopped (and started) through the API: ask the actor, and check automation (Terraform, scripts, CI) running as that principal.',
      );
      if (detail.stillDown) steps.push('The VM is still stopped: start it if it should be running.');
      break;
    case 'scheduled-stop':
      steps.push(
        'An instance schedule (resource policy) stopped the VM: check the schedule attached to it (`gcloud compute resource-policies list`) and its time zone.',
      );
      steps.push('Detach or change the schedule if the VM must stay up.');
      break;
    case 'mig-recreate':
      steps.push(
        'A managed instance group recreated or restarted the VM, usually because its autohealing health check failed: check the health check and the application on the VM.',
      );
      steps.push(
        'Make sure the health check initial delay is longer than the boot time, or the group will keep recreating VMs.',
      );
      steps.push(
        'Local state on the old VM is gone with a recreation: keep state off the boot disk (stateful disks, external storage).',
      );
      break;
    case 'unknown':
      steps.push(
        'No evidence explains this restart: read the serial console output (port 1) around the boot and the guest logs just before it.',
      );
      steps.push('Check that the Ops Agent ships syslog to Cloud Logging so the next one leaves a trace.');
      break;
  }
  if (detail.diskFull && cause !== 'unknown') {
    steps.push(
      'The guest also logged "No space left on device": free or grow the disk, or services may fail again after boot.',
    );
  }
  return steps;
};
