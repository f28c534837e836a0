import { buildInstanceConsoleUrl, buildLogsExplorerUrl } from '../why-reboot/links.js';
import type { TimeWindow } from '../why-reboot/types.js';

/**
 * Links to the queries /diag ran: Metrics Explorer (the instance's CPU, with every filter in the report's
 * sources), the instance's Observability tab, and Logs Explorer on the guest's kernel and syslog lines.
 */
export const buildDiagLinks = (input: {
  readonly project: string | null;
  readonly zone: string | null;
  readonly name: string;
  readonly instanceId: string | null;
  readonly window: TimeWindow;
  readonly metricFilters: readonly string[];
}): { label: string; url: string }[] => {
  const { project, zone, name, instanceId, window } = input;
  if (!project) return [];
  const links: { label: string; url: string }[] = [];
  if (instanceId) {
    const filter =
      input.metricFilters[0] ??
      `metric.type="compute.googleapis.com/instance/cpu/utilization" AND resource.labels.instance_id="${instanceId}"`;
    const pageState = {
      xyChart: {
        dataSets: [{ timeSeriesFilter: { filter, perSeriesAligner: 'ALIGN_MEAN', alignmentPeriod: '60s' } }],
      },
      timeSelection: { timeRange: 'custom', start: window.from.toISOString(), end: window.to.toISOString() },
    };
    links.push({
      label: 'Metrics Explorer',
      url: `https://console.cloud.google.com/monitoring/metrics-explorer?project=${encodeURIComponent(project)}&pageState=${encodeURIComponent(JSON.stringify(pageState))}`,
    });
    links.push({
      label: 'Logs Explorer (guest logs)',
      url: buildLogsExplorerUrl({
        project,
        query: `resource.type="gce_instance" AND resource.labels.instance_id="${instanceId}" AND log_id("syslog")`,
        from: window.from,
        to: window.to,
      }),
    });
  }
  if (zone) {
    links.push({
      label: 'Instance observability',
      url: `${buildInstanceConsoleUrl({ project, zone, name })}&tab=monitoring`,
    });
  }
  return links;
};
