/**
 * The Google fakes serving a fleet, in their own process so the bench measures only the client's memory:
 * prints one JSON line {logging, compute, projects, vms, window} and serves until stdin closes.
 */
import { startFakeCompute } from '../../test/fakes/gce-compute.js';
import { TEST_TOKEN } from '../../test/fakes/gce-env.js';
import { buildFleet, seedFleet } from '../../test/fakes/gce-fleet.js';
import { startFakeLogging } from '../../test/fakes/gce-logging.js';

const vms = Number(process.env.FLEET_VMS ?? 2000);
const entries = Number(process.env.FLEET_ENTRIES ?? 50_000);
const end = new Date(process.env.FLEET_END ?? '2026-11-21T02:00:00Z');
const logging = await startFakeLogging({ accessToken: TEST_TOKEN, maxPageSize: 1000 });
const compute = await startFakeCompute({ accessToken: TEST_TOKEN });
const fleet = buildFleet({ end, vms, entries });
seedFleet(fleet, { compute, logging });
process.stdout.write(
  `${JSON.stringify({
    logging: logging.url,
    compute: compute.url,
    projects: fleet.projects,
    vms: fleet.vms.map((v) => [v.project, v.zone, v.name, v.id]),
    window: { from: fleet.window.from.toISOString(), to: fleet.window.to.toISOString() },
    entries: fleet.entries.length,
  })}\n`,
);
process.stdin.resume();
process.stdin.on('end', async () => {
  await Promise.all([logging.close(), compute.close()]);
  process.exit(0);
});
