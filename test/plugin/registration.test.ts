// Registering the plugin in vCenter (the lab's ExtensionManager) the way an admin does it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLab, type Lab } from '../lab/lab.ts';
import { VSphere } from '../../backend/vsphere/index.ts';
import { pluginStatus, registerPlugin, unregisterPlugin, updatePlugin, type VcenterTarget } from '../../plugin/registration.ts';
import { EXTENSION_KEY, TASK_TYPES } from '../../plugin/extension.ts';

let lab: Lab;
let vc: VcenterTarget;
const serverThumbprint = Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, '0')).join(':');
const manifestUrl = 'https://stillpoint.lab.local:8443/plugin.json';
before(async () => {
  lab = await startLab({ images: false });
  vc = { url: lab.sdkUrl, username: lab.username, password: lab.password, thumbprint: lab.thumbprint };
});
after(async () => { await lab?.stop(); });

test('register, find, update, unregister', async () => {
  assert.equal((await pluginStatus(vc)).registered, false);
  const reg = await registerPlugin(vc, { manifestUrl, serverThumbprint, version: '1.0.0.0' });
  assert.equal(reg.registered, true);
  assert.equal(reg.version, '1.0.0.0');
  assert.equal(reg.manifestUrl, manifestUrl);
  assert.equal(reg.serverThumbprint, serverThumbprint);
  assert.deepEqual([...reg.tasks!].sort(), Object.values(TASK_TYPES).sort());

  // What vCenter stores: a remote client entry and the manifest server with its thumbprint.
  const vs = await VSphere.connect({ url: vc.url, username: vc.username, password: vc.password, thumbprint: vc.thumbprint! });
  try {
    const ext = await vs.extensions.find(EXTENSION_KEY);
    assert.equal(ext?.client?.[0]?.type, 'vsphere-client-remote');
    assert.equal(ext?.client?.[0]?.url, manifestUrl);
    assert.equal(ext?.server?.[0]?.type, 'MANIFEST_SERVER');
    // The declared task type is accepted by TaskManager.CreateTask.
    const vm = { type: 'VirtualMachine', value: Object.values(await lab.control.vms())[0]!.moref };
    const task = await vs.tasks.create({ obj: vm, taskTypeId: TASK_TYPES.backup, initiatedBy: 'test' });
    await task.succeed();
  } finally {
    await vs.close();
  }

  await assert.rejects(registerPlugin(vc, { manifestUrl, serverThumbprint, version: '1.0.0.0' }), /registered in this vCenter already/);
  const upd = await updatePlugin(vc, { manifestUrl: 'https://stillpoint2.lab.local/plugin.json', serverThumbprint });
  assert.equal(upd.version, '1.0.0.1');
  assert.equal(upd.manifestUrl, 'https://stillpoint2.lab.local/plugin.json');
  assert.equal((await updatePlugin(vc, { manifestUrl, serverThumbprint, version: '2.0.0.0' })).version, '2.0.0.0');
  assert.equal((await unregisterPlugin(vc)).registered, false);
  assert.equal((await pluginStatus(vc)).registered, false);
  await assert.rejects(unregisterPlugin(vc), /not registered/);
  await assert.rejects(updatePlugin(vc, { manifestUrl, serverThumbprint }), /not registered/);
});

test('bad manifest URL, server thumbprint or version are refused before vCenter is asked', async () => {
  await assert.rejects(registerPlugin(vc, { manifestUrl: 'http://x/plugin.json', serverThumbprint, version: '1.0.0.0' }), /must use https/);
  await assert.rejects(registerPlugin(vc, { manifestUrl: 'not a url', serverThumbprint, version: '1.0.0.0' }), /is not a URL/);
  await assert.rejects(registerPlugin(vc, { manifestUrl: 'https://x/ui/', serverThumbprint, version: '1.0.0.0' }), /plugin\.json/);
  await assert.rejects(registerPlugin(vc, { manifestUrl, serverThumbprint: 'AB:CD', version: '1.0.0.0' }), /not a SHA-256 thumbprint/);
  await assert.rejects(registerPlugin(vc, { manifestUrl, serverThumbprint, version: '1.0' }), /four dotted numbers/);
  assert.equal((await pluginStatus(vc)).registered, false);
});

test('a vCenter whose certificate does not match the thumbprint is refused', async () => {
  const wrong = { ...vc, thumbprint: serverThumbprint };
  await assert.rejects(pluginStatus(wrong), /ThumbprintMismatch/);
});
