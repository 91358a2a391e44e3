// vCenter integration points against the lab: extensions, our own tasks, events, custom attributes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InvalidArgumentError, mor, type Extension, type MoRef, type TaskInfo, type VSphere } from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

const KEY = 'com.stillpoint.test';

function extension(version: string): Extension {
  return {
    key: KEY,
    version,
    company: 'Stillpoint',
    type: 'com.vmware.vim.viClientScripts',
    description: { label: 'Stillpoint', summary: 'Backup and replication' },
    server: [{ url: 'https://stillpoint.example:8443/plugin.json', description: { label: 'Stillpoint', summary: 'plugin server' },
      company: 'Stillpoint', type: 'PLUGIN_SERVER', adminEmail: ['ops@example.com'], serverThumbprint: 'AA:BB' }],
    client: [{ version, description: { label: 'Stillpoint', summary: 'UI' }, company: 'Stillpoint', type: 'vsphere-client-remote',
      url: 'https://stillpoint.example:8443/plugin.json' }],
    taskList: [{ taskID: `${KEY}.backup` }],
    shownInSolutionManager: true,
  };
}

describe('vsphere: extensions, tasks, events, custom attributes', () => {
  let lab: Lab;
  let vs: VSphere;
  let labVms: Record<string, LabVm>;
  let vm: MoRef;
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession());
    vm = mor('VirtualMachine', labVms['win-app01']!.moref);
  });
  after(() => stopLabSession(lab, vs));

  it('registers, finds, updates and unregisters an extension', async () => {
    assert.equal(await vs.extensions.find(KEY), undefined);
    assert.equal(await vs.extensions.upsert(extension('1.0.0')), 'registered');
    const found = await vs.extensions.find(KEY);
    assert.equal(found?.key, KEY);
    assert.equal(found?.version, '1.0.0');
    assert.equal(found?.description.label, 'Stillpoint');
    assert.equal(found?.server?.[0]?.url, 'https://stillpoint.example:8443/plugin.json');
    assert.deepEqual(found?.server?.[0]?.adminEmail, ['ops@example.com']);
    assert.equal(found?.client?.[0]?.type, 'vsphere-client-remote');
    assert.deepEqual(found?.taskList?.map((t) => t.taskID), [`${KEY}.backup`]);
    assert.equal(await vs.extensions.upsert(extension('1.1.0')), 'updated');
    assert.equal((await vs.extensions.find(KEY))?.version, '1.1.0');
    await vs.extensions.unregister(KEY);
    assert.equal(await vs.extensions.find(KEY), undefined);
  });

  it('creates a task visible in vCenter with its progress, description and final state', async () => {
    await vs.extensions.upsert(extension('1.0.0'));
    await assert.rejects(vs.tasks.create({ obj: vm, taskTypeId: `${KEY}.undeclared` }), InvalidArgumentError);
    const task = await vs.tasks.create({ obj: vm, taskTypeId: `${KEY}.backup`, initiatedBy: 'Stillpoint', cancelable: false });
    assert.equal(task.info.state, 'queued');
    assert.equal(task.info.entity?.value, vm.value);
    await task.running();
    await task.describe('Backing up win-app01: disk 1 of 1');
    await task.progress(42);
    const read = async (): Promise<TaskInfo> => (await vs.pc.retrieveOne<{ info: TaskInfo }>(task.ref, ['info'])).info;
    let info = await read();
    assert.equal(info.state, 'running');
    assert.equal(info.progress, 42);
    assert.equal(info.description?.message, 'Backing up win-app01: disk 1 of 1');
    assert.equal(info.descriptionId, `${KEY}.backup`);
    const { recentTask } = await vs.pc.retrieveOne<{ recentTask?: MoRef[] }>(vs.client.serviceContent.taskManager!, ['recentTask']);
    assert.ok(recentTask?.some((t) => t.value === task.ref.value), 'in Recent Tasks');
    // waitForTask sees our own task finish.
    const waited = vs.waitForTask(task.ref);
    await task.succeed();
    await waited;
    info = await read();
    assert.equal(info.state, 'success');

    const failing = await vs.tasks.create({ obj: vm, taskTypeId: `${KEY}.backup` });
    await failing.running();
    await failing.fail('disk 2000: datastore unreachable');
    info = (await vs.pc.retrieveOne<{ info: TaskInfo }>(failing.ref, ['info'])).info;
    assert.equal(info.state, 'error');
    assert.match(info.error?.localizedMessage ?? '', /datastore unreachable/);
    await assert.rejects(vs.waitForTask(failing.ref), /datastore unreachable/);

    // track(): the whole lifecycle around a function.
    const r = await vs.tasks.track({ obj: vm, taskTypeId: `${KEY}.backup`, description: 'tracked' }, async (t) => {
      await t.progress(50);
      return 7;
    });
    assert.equal(r, 7);
  });

  it('logs a user event on the VM', async () => {
    await vs.events.logUserEvent(vm, 'Stillpoint: backup of win-app01 finished (restore point 42)');
    const events = await vs.events.query(vm);
    const ev = events.find((e) => e._type === 'GeneralUserEvent' && e.message?.includes('restore point 42'));
    assert.ok(ev, JSON.stringify(events.map((e) => e._type)));
    assert.equal(ev.vm?.vm.value, vm.value);
  });

  it('sets a custom attribute ("Last backup") on a VM', async () => {
    const def = await vs.customFields.ensure('Stillpoint last backup');
    assert.equal((await vs.customFields.ensure('Stillpoint last backup')).key, def.key, 'ensure is idempotent');
    await vs.customFields.set(vm, def.key, '2026-11-25 07:30 OK');
    await vs.customFields.setByName(vm, 'Stillpoint job', 'nightly');
    const values = await vs.customFields.values(vm);
    assert.equal(values['Stillpoint last backup'], '2026-11-25 07:30 OK');
    assert.equal(values['Stillpoint job'], 'nightly');
  });
});
