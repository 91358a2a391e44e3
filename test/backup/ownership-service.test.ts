// Two Stillpoint service instances (two nodes, each with its own data folder) against one vCenter,
// each backing up a different VM at the same time. One is restarted while the other's backup holds
// its snapshot: the restarted node's recovery removes its own leftovers, and the other node's
// snapshot and run survive (ownership.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { JobRun } from '../../backend/api/contract.ts';
import type { NodeIdentity } from '../../backend/service/node-identity.ts';
import { heartbeatField, snapshotTag } from '../../backend/sources/snapshot/ownership.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { until, within } from '../helpers/wait.ts';

let first: TestService;
let second: TestService;
let restarted: TestService | undefined;
let vs: VSphere;
before(async () => {
  first = await startTestService();
  second = await startTestService({ lab: first.lab, register: false });
  vs = await connectToLab(first.lab);
});
let secondClosed = false;
after(async () => {
  await vs?.close();
  await restarted?.stop();
  if (!secondClosed) await second?.service.close();
  if (second) rmSync(second.dataDir, { recursive: true, force: true });
  await first?.stop();
});

const nodeOf = (s: TestService): NodeIdentity => JSON.parse(readFileSync(join(s.dataDir, 'node.json'), 'utf8')) as NodeIdentity;

test('restarting one node while the other\'s backup holds its snapshot: that snapshot and run survive', async () => {
  const lab = first.lab;
  const vms = await lab.control.vms();
  const win = { type: 'VirtualMachine', value: vms['win-app01']!.moref };
  const linux = vms['linux-db01']!.moref;
  const web = { type: 'VirtualMachine', value: vms['web-off01']!.moref };
  const [tokenA, tokenB] = [await first.login(), await second.login()];
  const nodeA = nodeOf(first);
  const nodeB = nodeOf(second);
  assert.notEqual(nodeA.id, nodeB.id);

  // Node A's read of win-app01 is held: the first GET of its flat file waits 30 s in the lab.
  await lab.control.injectFault({ method: 'DatastoreGet', fault: '', path: 'win-app01-flat.vmdk', delayMs: 30_000, count: 1 });
  const runA = (await first.call<JobRun>('POST', '/api/backups', { token: tokenA, body: { vmIds: [win.value] } })).body;
  const runB = (await second.call<JobRun>('POST', '/api/backups', { token: tokenB, body: { vmIds: [linux] } })).body;
  assert.ok(runA.id && runB.id, JSON.stringify([runA, runB]));

  const snapA = await until('node A\'s snapshot, with its read held', async () => {
    const held = (await lab.control.faults()).length === 0; // the delay rule was taken by A's read
    const snaps = await vs.snapshots.list(win);
    return held && snaps.length === 1 && snaps[0];
  });
  assert.match(snapA.description, new RegExp(`node:${nodeA.id}`));
  const doneB = await second.waitRun(tokenB, runB.id);
  assert.equal(doneB.status, 'success', JSON.stringify(doneB));

  // A leftover of node B's own (its journal entry lost) shows that B's recovery really ran.
  await vs.snapshots.create(web, { name: 'Stillpoint backup (left)', description: `Temporary snapshot of a Stillpoint backup; removed automatically. ${snapshotTag(randomUUID(), nodeB.id)}` });

  // Restart node B on the same data folder and wait for its start-up recovery.
  await second.service.close();
  secondClosed = true;
  restarted = await startTestService({ lab, register: false, config: { dataDir: second.dataDir } });
  assert.equal(nodeOf(second).id, nodeB.id, 'the same data folder is the same node');
  await within('node B\'s recovery', restarted.service.recovery);

  assert.deepEqual(await vs.snapshots.list(web), [], 'node B removed its own leftover');
  assert.deepEqual((await vs.snapshots.list(win)).map((s) => s.ref.value), [snapA.ref.value], 'node A\'s snapshot survived');
  const stillRunning = (await first.call<JobRun>('GET', `/api/runs/${runA.id}`, { token: tokenA })).body;
  assert.equal(stillRunning.status, 'running', 'A\'s backup was still reading when B recovered (lengthen the delay if not)');

  // Both nodes publish heartbeats in vCenter.
  const beats = await vs.customFields.values(vs.client.serviceContent.rootFolder);
  assert.ok(beats[heartbeatField(nodeA.id)] && beats[heartbeatField(nodeB.id)], JSON.stringify(beats));

  const doneA = await first.waitRun(tokenA, runA.id, 90_000);
  assert.equal(doneA.status, 'success', JSON.stringify(doneA));
  assert.deepEqual(await vs.snapshots.list(win), []);
});
