// Stillpoint's vCenter alarms against the lab's AlarmManager: defined at plugin registration (once,
// however often it is re-registered), removed with the plugin, and raised on a VM by a failed backup
// (our EventEx), with the AlarmStatusChangedEvent in vCenter's events; a good backup resets them.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { startTestService, type TestService } from '../helpers/service.ts';
import { VSphere } from '../../backend/vsphere/index.ts';
import { ALARMS } from '../../backend/alarms/definitions.ts';
import { pluginStatus, unregisterPlugin, updatePlugin, registerPlugin } from '../../plugin/registration.ts';
import { EVENT_TYPES } from '../../backend/model/vcenter-tasks.ts';
import type { JobRun } from '../../backend/api/contract.ts';

let t: TestService;
let vs: VSphere;
let token: string;
const target = () => ({ url: t.lab.sdkUrl, username: t.lab.username, password: t.lab.password, thumbprint: t.lab.thumbprint });

before(async () => {
  t = await startTestService();
  vs = await VSphere.connect({ url: t.lab.sdkUrl, username: t.lab.username, password: t.lab.password, thumbprint: t.lab.thumbprint });
  token = await t.login();
});
after(async () => { await vs?.close(); await t?.stop(); });

const ours = async () => (await vs.alarms.list(vs.client.serviceContent.rootFolder)).filter((a) => a.name.startsWith('Stillpoint: '));

test('the lab presents itself as a current vCenter (the manifest needs 7.0 or later)', () => {
  const about = vs.about;
  assert.ok(Number(about.version.split('.')[0]) >= 7, about.version);
  assert.ok(Number(about.apiVersion.split('.')[0]) >= 7, about.apiVersion);
  assert.match(about.fullName, /vCenter Server 8\./);
});

test('registration defines the alarms on the root folder, once, and update keeps them single', async () => {
  const list = await ours();
  assert.deepEqual(list.map((a) => a.name).sort(), ALARMS.map((a) => a.name).sort());
  const failed = list.find((a) => a.name === 'Stillpoint: backup failed')!;
  assert.deepEqual(failed.entity, vs.client.serviceContent.rootFolder);
  assert.ok(failed.triggers.some((x) => x.eventType === 'EventEx' && x.eventTypeId === EVENT_TYPES.backupFailed && x.status === 'red' && x.objectType === 'VirtualMachine'));
  const st = await updatePlugin(target(), { manifestUrl: `${t.service.url}/plugin.json`, serverThumbprint: t.service.thumbprint });
  assert.equal(st.alarms?.length, ALARMS.length);
  const again = await ours();
  assert.equal(again.length, ALARMS.length);
  assert.deepEqual(again.map((a) => a.ref.value).sort(), list.map((a) => a.ref.value).sort(), 're-registration reconfigures the same alarms');
  assert.deepEqual((await pluginStatus(target())).alarms?.sort(), ALARMS.map((a) => a.name).sort());
});

test('a failed backup raises "backup failed" on the VM in vCenter; the next good backup resets it', async () => {
  const vm = (await vs.inventory.vms()).find((v) => v.name === 'linux-db01')!;
  await t.lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'FileFault', vm: 'linux-db01', count: 1 });
  const started = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vm.ref.value] } });
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const run = await t.waitRun(token, started.body.id);
  assert.equal(run.status, 'failed');

  const failedAlarm = (await ours()).find((a) => a.name === 'Stillpoint: backup failed')!;
  const states = await vs.alarms.triggered(vm.ref);
  const s = states.find((x) => x.alarm.value === failedAlarm.ref.value);
  assert.ok(s, `no triggered alarm on ${vm.name}: ${JSON.stringify(states)}`);
  assert.equal(s.overallStatus, 'red');
  const { triggeredAlarmState } = await vs.pc.retrieveOne<{ triggeredAlarmState?: { alarm: { value: string } }[] }>(vm.ref, ['triggeredAlarmState']);
  assert.ok(triggeredAlarmState?.some((x) => x.alarm.value === failedAlarm.ref.value), 'the VM\'s triggeredAlarmState shows it');
  const events = await vs.events.query(vm.ref);
  assert.ok(events.some((e) => e._type === 'EventEx' && e.eventTypeId === EVENT_TYPES.backupFailed && /backup failed/.test(String(e.fullFormattedMessage))),
    JSON.stringify(events.map((e) => [e._type, e.fullFormattedMessage])));
  assert.ok(events.some((e) => e._type === 'AlarmStatusChangedEvent' && /Stillpoint: backup failed.*Red/.test(String(e.fullFormattedMessage))));

  const good = await t.call<JobRun>('POST', '/api/backups', { token, body: { vmIds: [vm.ref.value] } });
  assert.notEqual((await t.waitRun(token, good.body.id)).status, 'failed');
  assert.equal((await vs.alarms.triggered(vm.ref)).filter((x) => x.alarm.value === failedAlarm.ref.value).length, 0, 'a good backup resets the alarm');
});

test('verify finding damage raises "verify found damage" on the datacenter; a clean verify resets it', async () => {
  const dc = (await vs.inventory.datacenters())[0]!;
  const alarm = (await ours()).find((a) => a.name === 'Stillpoint: verify found damage')!;
  const packs = join(t.service.config.repository.path, 'packs');
  const sub = readdirSync(packs).find((x) => statSync(join(packs, x)).isDirectory())!;
  const pack = join(packs, sub, readdirSync(join(packs, sub))[0]!);
  const original = readFileSync(pack);
  const fd = openSync(pack, 'r+');
  writeSync(fd, Buffer.from([0xde, 0xad, 0xbe]), 0, 3, 200);
  closeSync(fd);
  const verify = async () => t.waitRun(token, (await t.call<JobRun>('POST', '/api/maintenance/verify/run', { token })).body.id);
  assert.equal((await verify()).status, 'failed');
  const raised = await until(async () => (await vs.alarms.triggered(dc.ref)).find((x) => x.alarm.value === alarm.ref.value), 'the verify alarm');
  assert.equal(raised.overallStatus, 'red');
  const events = await vs.events.recent(50);
  assert.ok(events.some((e) => e._type === "EventEx" && e.eventTypeId === EVENT_TYPES.verifyDamage && e.objectId === dc.ref.value && /found damage/.test(String(e.fullFormattedMessage))), JSON.stringify(events.map((e) => [e._type, e.eventTypeId, e.fullFormattedMessage])));
  writeFileSync(pack, original);
  assert.equal((await verify()).status, 'success');
  await until(async () => ((await vs.alarms.triggered(dc.ref)).some((x) => x.alarm.value === alarm.ref.value) ? undefined : true), 'the verify alarm to reset');
});

/** Polls an asynchronous condition (vCenter events are posted after the run ends) until it yields, with a deadline. */
async function until<T>(f: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('unregistering removes the alarms; registering again brings them back', async () => {
  await unregisterPlugin(target());
  assert.equal((await ours()).length, 0);
  await registerPlugin(target(), { manifestUrl: `${t.service.url}/plugin.json`, serverThumbprint: t.service.thumbprint, version: '1.0.0.0' });
  assert.equal((await ours()).length, ALARMS.length);
});
