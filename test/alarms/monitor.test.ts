// The alarm conditions that are not one backup's outcome, against the lab vCenter with Stillpoint's
// alarms defined: a VM of a scheduled job without a good point within the window raises "RPO exceeded"
// on the VM (once, not again while it stays late) and a good point clears it; the repository crossing
// 90 % raises "repository nearly full" on the datacenter and falling under 85 % clears it.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startLab, type Lab } from '../lab/lab.ts';
import { VSphere } from '../../backend/vsphere/index.ts';
import { ensureAlarms } from '../../backend/alarms/definitions.ts';
import { AlarmMonitor } from '../../backend/alarms/monitor.ts';
import { EVENT_TYPES } from '../../backend/model/vcenter-tasks.ts';
import type { Job } from '../../backend/model/job.ts';

let lab: Lab;
let vs: VSphere;
before(async () => {
  lab = await startLab();
  vs = await VSphere.connect({ url: lab.sdkUrl, username: lab.username, password: lab.password, thumbprint: lab.thumbprint });
  await ensureAlarms(vs);
});
after(async () => { await vs?.close(); await lab?.stop(); });

const alarmRef = async (name: string) => (await vs.alarms.list(vs.client.serviceContent.rootFolder)).find((a) => a.name === name)!.ref;
const triggered = async (entity: { type: string; value: string }, name: string) => {
  const ref = await alarmRef(name);
  return (await vs.alarms.triggered(entity)).find((s) => s.alarm.value === ref.value);
};
const countEvents = async (id: string) => (await vs.events.recent(200)).filter((e) => e.eventTypeId === id).length;

test('RPO exceeded is raised once for a late VM of a scheduled job and cleared by a good point', async () => {
  const vm = (await vs.inventory.vms()).find((v) => v.name === 'web-off01')!;
  const job = { id: 'j1', name: 'Nightly', kind: 'backup', enabled: true, schedule: { cron: '0 22 * * *' }, vmIds: [vm.ref.value], folderIds: [], createdAt: new Date(Date.now() - 3 * 86_400_000).toISOString() } as unknown as Job;
  const good = new Map<string, string>();
  const monitor = new AlarmMonitor({
    sites: () => ['vc1'], vs: async () => vs, parseVm: (id) => ({ site: 'vc1', moref: id }), jobs: () => [job], jobVms: async (j) => j.vmIds,
    lastProtected: async () => good, vmName: async () => vm.name, windowHours: 26, space: async () => undefined,
  });
  good.set(vm.ref.value, new Date(Date.now() - 30 * 3_600_000).toISOString()); // 30 h old: late
  await monitor.check();
  const raised = await triggered(vm.ref, 'Stillpoint: RPO exceeded');
  assert.equal(raised?.overallStatus, 'red');
  const n = await countEvents(EVENT_TYPES.rpoExceeded);
  await monitor.check();
  assert.equal(await countEvents(EVENT_TYPES.rpoExceeded), n, 'no second event while it stays late');
  good.set(vm.ref.value, new Date().toISOString());
  await monitor.check();
  assert.equal(await triggered(vm.ref, 'Stillpoint: RPO exceeded'), undefined, 'a good point clears it');
  assert.ok((await countEvents(EVENT_TYPES.rpoMet)) >= 1);
});

test('repository nearly full is raised at 90 % on the datacenter and cleared under 85 %', async () => {
  const dc = (await vs.inventory.datacenters())[0]!;
  let space = { totalBytes: 1000, freeBytes: 500 };
  const monitor = new AlarmMonitor({
    sites: () => ['vc1'], vs: async () => vs, parseVm: (id) => ({ site: 'vc1', moref: id }), jobs: () => [], jobVms: async () => [],
    lastProtected: async () => new Map(), vmName: async (id) => id, windowHours: 26, space: async () => space,
  });
  await monitor.check();
  assert.equal(await triggered(dc.ref, 'Stillpoint: repository nearly full'), undefined);
  space = { totalBytes: 1000, freeBytes: 60 };
  await monitor.check();
  assert.equal((await triggered(dc.ref, 'Stillpoint: repository nearly full'))?.overallStatus, 'red');
  space = { totalBytes: 1000, freeBytes: 120 }; // 88 %: between the marks, no change
  await monitor.check();
  assert.ok(await triggered(dc.ref, 'Stillpoint: repository nearly full'));
  space = { totalBytes: 1000, freeBytes: 400 };
  await monitor.check();
  assert.equal(await triggered(dc.ref, 'Stillpoint: repository nearly full'), undefined);
});
