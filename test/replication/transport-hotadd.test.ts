// Hot-add replication through a paired transporter running as a real child process on the lab's DR
// helper VM: the seed is a full upload, runs after it send about the changed bytes (CBT, refined by
// digests), the transporter counts what it wrote, the replica's disk equals the source at every
// recovery point, a grown source disk grows the replica's (older points go; compared by digest), and
// nothing stays attached to the helper.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startLab, type Lab } from '../lab/lab.ts';
import { startTestService, type TestService } from '../helpers/service.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import type { JobRun, ReplicaState } from '../../backend/api/contract.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';
import { listPoints } from '../../backend/replication/recovery-points.ts';
import { diskShaViaHelper, helperAttached, pairAndStartTransporter, pieceCover, serviceCli, shaOfFile, type TransporterProc } from './transport-lab.ts';

const MiB = 1024 * 1024;
const VM = 'linux-db01';
const REPLICA = `${VM}-replica`;
const dr = { host: 'esx-dr-01.lab.local', datastore: 'dr-ds1', keep: 5, networkMap: [{ source: 'VM Network', target: 'DR-Network' }] };

let lab: Lab;
let t: TestService;
let vs: VSphere;
let token: string;
let transporter: TransporterProc;
/** Source disk hash at each successful run, by the run's recovery point id. */
const atPoint = new Map<string, string>();
/** What the transporter must have written: the 4 KiB pieces of every change sent by hot-add. */
let expectedWritten = 0;

const cli = (args: string[]) => serviceCli(t, args);

before(async () => {
  lab = await startLab({ replication: true });
  t = await startTestService({ lab, register: false });
  token = await t.login();
  vs = await connectToLab(lab);
  transporter = await pairAndStartTransporter(t);
});
after(async () => {
  if (transporter && transporter.proc.exitCode === null) await transporter.kill9();
  await vs?.close();
  await t?.stop();
  await lab?.stop();
});

const source = async () => (await lab.control.vms())[VM]!.disks[0]!;
const sourceSha = async () => { const d = await source(); return shaOfFile(d.flatPath, d.capacityBytes); };

async function replicate(): Promise<{ run: JobRun; sha: string }> {
  const sha = await sourceSha();
  const vmId = (await lab.control.vms())[VM]!.moref;
  const r = await t.call<JobRun>('POST', `/api/vms/${vmId}/replicate`, { token, body: dr });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  const run = await t.waitRun(token, r.body.id, 240_000);
  assert.ok(run.status === 'success' || run.status === 'warning', JSON.stringify(run));
  const state = (await t.call<ReplicaState>('GET', `/api/vms/${vmId}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;
  atPoint.set(state.points!.at(-1)!.id, sha);
  return { run, sha };
}

async function checkEveryPoint(): Promise<void> {
  const replica = { type: 'VirtualMachine', value: (await lab.control.vms())[REPLICA]!.moref };
  const points = await listPoints(vs, replica);
  assert.ok(points.length >= 1);
  for (const p of points) {
    await vs.snapshots.revert(p.ref, { suppressPowerOn: true });
    assert.equal(await diskShaViaHelper(vs, lab, REPLICA), atPoint.get(p.id), `replica at '${p.name}' (${p.id}) = source at that run`);
  }
}

test('the transporter is paired and registered; GET /api/transporters shows it running', async () => {
  assert.equal(transporter.ready.name, 'dr-transporter01');
  assert.deepEqual(transporter.ready.cleaned, []);
  const list = await cli(['transporter', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^dr-transporter01\s+vm-\d+\s+\S+\s+yes\s+https:\/\/127\.0\.0\.1:\d+/m);
});

test('seed by full upload, then hot-add sends about the changed bytes; the replica equals the source at every point', async () => {
  const seed = await replicate();
  assert.match(seed.run.vms[0]!.message ?? '', /Created replica linux-db01-replica .*by full upload \(whole disks\)/);
  const cap = (await source()).capacityBytes;
  assert.equal(seed.run.vms[0]!.bytesRead, cap);

  // Known byte ranges of the ext4 image's disk, written as the guest would (CBT sees 64 KiB blocks).
  const writes = [{ start: MiB + 512, length: 300 * 1024 }, { start: 10 * MiB, length: MiB }, { start: 40 * MiB + 123, length: 8 * 1024 }];
  for (const w of writes) await lab.control.writeDisk(VM, 0, w.start, randomBytes(w.length));
  const changed = writes.reduce((n, w) => n + w.length, 0);
  const second = await replicate();
  assert.match(second.run.vms[0]!.message ?? '', /Updated replica .* by hot-add/);
  const sent = second.run.vms[0]!.bytesRead;
  assert.ok(sent >= changed, `sent ${sent} B, fewer than the ${changed} B changed`);
  assert.ok(sent <= 1.1 * changed, `hot-add sent ${sent} B for ${changed} B changed (${(sent / changed).toFixed(3)}×)`);
  expectedWritten += pieceCover(writes);

  // Nothing changed: nothing but the request itself.
  const third = await replicate();
  assert.ok(third.run.vms[0]!.bytesRead < 4096, `an unchanged disk sent ${third.run.vms[0]!.bytesRead} B`);

  assert.deepEqual(await helperAttached(lab), [], 'no replica disk stays attached to the helper');
  await checkEveryPoint();
});

test('a grown source disk grows the replica\'s: older points removed (said), whole disk compared by digest, equal after', async () => {
  const vmId = (await lab.control.vms())[VM]!.moref;
  const d = await source();
  const { 'config.hardware.device': devices } = await vs.pc.retrieveOne<{ 'config.hardware.device': { key: number; _type?: string }[] }>({ type: 'VirtualMachine', value: vmId }, ['config.hardware.device']);
  const disk = devices.find((x) => x.key === d.key)!;
  const grownTo = d.capacityBytes + 8 * MiB;
  await vs.vms.reconfigure({ type: 'VirtualMachine', value: vmId }, { deviceChange: [{ operation: 'edit', device: { ...disk, capacityInBytes: grownTo, capacityInKB: grownTo / 1024 } }] } as never);
  const writes = [{ start: 2 * MiB, length: 64 * 1024 }, { start: d.capacityBytes + MiB, length: 100 * 1024 }];
  for (const w of writes) await lab.control.writeDisk(VM, 0, w.start, randomBytes(w.length));
  const pointsBefore = atPoint.size;
  const run = await replicate();
  const v = run.run.vms[0]!;
  assert.ok(v.warnings.some((w) => /grew: the replica's disks were grown.*older recovery points? (was|were) removed/.test(w)), JSON.stringify(v.warnings));
  assert.ok(v.warnings.some((w) => /: compared by digest \(\S+ grew\)/.test(w)), JSON.stringify(v.warnings));
  const changed = writes.reduce((n, w) => n + w.length, 0);
  const digests = (grownTo / 4096) * 16;
  assert.ok(v.bytesRead <= 1.1 * (changed + digests), `digest run sent ${v.bytesRead} B for ${changed} B changed + ${digests} B of digests`);
  expectedWritten += pieceCover(writes);
  const state = (await t.call<ReplicaState>('GET', `/api/vms/${vmId}/replica`, { token })).body as Extract<ReplicaState, { replicaVmId: string }>;
  assert.equal(state.recoveryPoints, 1, `the ${pointsBefore} older points are gone`);
  assert.equal((await lab.control.vms())[REPLICA]!.disks[0]!.capacityBytes, grownTo);
  // And the next run is back on CBT.
  await lab.control.writeDisk(VM, 0, 30 * MiB, randomBytes(128 * 1024));
  const next = await replicate();
  assert.ok(next.run.vms[0]!.bytesRead <= 1.1 * 128 * 1024, `sent ${next.run.vms[0]!.bytesRead} B`);
  expectedWritten += pieceCover([{ start: 30 * MiB, length: 128 * 1024 }]);
  await checkEveryPoint();
  assert.deepEqual(await helperAttached(lab), []);
});

test('CBT turned off and on again on the source (earlier changeIds invalid): the run compares by digest and stays exact', async () => {
  const vmId = (await lab.control.vms())[VM]!.moref;
  await vs.cbt.setEnabled({ type: 'VirtualMachine', value: vmId }, false);
  await vs.cbt.setEnabled({ type: 'VirtualMachine', value: vmId }, true);
  const writes = [{ start: 20 * MiB + 4096, length: 200 * 1024 }];
  for (const w of writes) await lab.control.writeDisk(VM, 0, w.start, randomBytes(w.length));
  const { run } = await replicate();
  const v = run.vms[0]!;
  assert.ok(v.warnings.some((w) => /: compared by digest \(/.test(w)), JSON.stringify(v.warnings));
  const cap = (await source()).capacityBytes;
  const changed = writes.reduce((n, w) => n + w.length, 0);
  assert.ok(v.bytesRead <= 1.1 * (changed + (cap / 4096) * 16), `sent ${v.bytesRead} B for ${changed} B changed`);
  expectedWritten += pieceCover(writes);
  const replica = { type: 'VirtualMachine', value: (await lab.control.vms())[REPLICA]!.moref };
  const points = await listPoints(vs, replica);
  await vs.snapshots.revert(points.at(-1)!.ref, { suppressPowerOn: true });
  assert.equal(await diskShaViaHelper(vs, lab, REPLICA), atPoint.get(points.at(-1)!.id));
});

test('the transporter counted exactly the pieces that changed, and stops cleanly', async () => {
  assert.equal(await transporter.stop(), expectedWritten);
  const list = JSON.parse((await cli(['transporter', 'list', '--json'])).stdout) as { online: boolean }[];
  assert.equal(list.length, 1);
});
