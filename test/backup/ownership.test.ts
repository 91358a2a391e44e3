// Two Stillpoint nodes share one vCenter: each node's recovery and preflight remove only its own
// leftovers and those of nodes known to be gone, never a live peer's snapshot (ownership.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateNodeIdentity, type NodeIdentity } from '../../backend/service/node-identity.ts';
import { SessionJournal } from '../../backend/sources/snapshot/journal.ts';
import { heartbeatField, parseSnapshotTag, PeerView, snapshotTag, startHeartbeat, type Heartbeat } from '../../backend/sources/snapshot/ownership.ts';
import { recoverLeftovers } from '../../backend/sources/snapshot/recovery.ts';
import { SnapshotSession } from '../../backend/sources/snapshot/session.ts';
import type { MoRef } from '../../backend/vsphere/index.ts';
import { DEFAULT_SETTINGS, startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';

let env: BackupEnv;
let nodeA: NodeIdentity;
let nodeB: NodeIdentity;
let journalA: SessionJournal;
let journalB: SessionJournal;
const beats: Heartbeat[] = [];
before(async () => {
  env = await startBackupEnv();
  nodeA = loadOrCreateNodeIdentity(join(env.dir, 'a'));
  nodeB = loadOrCreateNodeIdentity(join(env.dir, 'b'));
  journalA = new SessionJournal(join(env.dir, 'a'), nodeA);
  journalB = new SessionJournal(join(env.dir, 'b'), nodeB);
});
after(async () => { for (const b of beats) b.stop(); await env?.close(); });

const vmRef = async (name: string): Promise<MoRef> => ({ type: 'VirtualMachine', value: await env.vmId(name) });
const snapshotsOf = async (name: string) => env.vs.snapshots.list(await vmRef(name));
const GRACE = 10 * 60_000;

test('node identity: made once per data folder, stable across loads', () => {
  assert.match(nodeA.id, /^[0-9a-f-]{36}$/);
  assert.notEqual(nodeA.id, nodeB.id);
  assert.deepEqual(loadOrCreateNodeIdentity(join(env.dir, 'a')).id, nodeA.id);
});

test('snapshot tags name session and node; older tags parse with the owner unknown', () => {
  const s = randomUUID();
  assert.deepEqual(parseSnapshotTag(`Temporary snapshot … ${snapshotTag(s, nodeA.id)}`), { sessionId: s, nodeId: nodeA.id });
  assert.deepEqual(parseSnapshotTag(`Temporary snapshot … stillpoint-session:${s}`), { sessionId: s });
  assert.equal(parseSnapshotTag('someone else\'s snapshot'), undefined);
});

test('heartbeat: the node\'s custom attribute on the root folder holds vCenter\'s time and the host name', async () => {
  for (const n of [nodeA, nodeB]) {
    const hb = startHeartbeat(env.vs, n, { intervalMs: 3_600_000 });
    beats.push(hb);
    await hb.beat();
    assert.equal(hb.error, undefined);
  }
  const values = await env.vs.customFields.values(env.vs.client.serviceContent.rootFolder);
  const [at, name] = values[heartbeatField(nodeA.id)]!.split(' ');
  const now = await env.vs.session.currentTime();
  assert.ok(Math.abs(now.getTime() - new Date(at!).getTime()) < 60_000, `${at} vs ${now.toISOString()}`);
  assert.equal(name, nodeA.name);
  const view = await PeerView.read(env.vs, GRACE);
  assert.equal(view.gone(nodeA.id, new Date(0)), false, 'a node that just beat is alive');
  assert.equal(view.gone(randomUUID(), new Date(0)), true, 'no heartbeat and an old snapshot: gone');
  assert.equal(view.gone(randomUUID(), now), false, 'no heartbeat but a young snapshot: alive');
});

test('node B\'s recovery and preflight leave node A\'s live snapshot; they remove B\'s own and a gone node\'s leftovers', async () => {
  const win = await env.vs.inventory.vm(await vmRef('win-app01'));
  const web = await vmRef('web-off01');
  const notools = await vmRef('app-notools01');

  // Node A's backup holds its snapshot of win-app01.
  const a = await SnapshotSession.open({ vs: env.vs, journal: journalA }, { vm: win, guestFamily: 'windows', settings: DEFAULT_SETTINGS, purpose: 'backup' });
  assert.match(a.snapshot.node.description, new RegExp(`stillpoint-session:${a.id} node:${nodeA.id}`));
  assert.equal(journalA.get(a.id)?.nodeId, nodeA.id);

  // Leftovers: B's own (its journal lost), one of an older version (no node), one of node C whose
  // heartbeat stopped an hour ago (its snapshot is young, so C still counts as alive for now).
  const nodeC = randomUUID();
  await env.vs.customFields.setByName(env.vs.client.serviceContent.rootFolder, heartbeatField(nodeC), `${new Date(Date.now() - 3_600_000).toISOString()} old-host`);
  const plant = (vm: MoRef, tag: string) => env.vs.snapshots.create(vm, { name: 'Stillpoint backup (left)', description: `Temporary snapshot of a Stillpoint backup; removed automatically. ${tag}` });
  await plant(web, snapshotTag(randomUUID(), nodeB.id));
  const unknown = await plant(web, snapshotTag(randomUUID()));
  const cLeft = await plant(notools, snapshotTag(randomUUID(), nodeC));

  const actions = await recoverLeftovers(env.vs, journalB, () => undefined, { graceMs: GRACE });
  const names = async (vm: string) => (await snapshotsOf(vm)).map((s) => s.ref.value).sort();
  assert.deepEqual(await names('win-app01'), [a.snapshot.node.ref.value], 'A\'s live snapshot survives B\'s recovery');
  assert.deepEqual(await names('web-off01'), [unknown.node.ref.value], 'B\'s own leftover removed, the unknown owner\'s left');
  assert.deepEqual(await names('app-notools01'), [cLeft.node.ref.value], 'C took its snapshot within the grace period');
  assert.deepEqual(actions.map((x) => [x.vmId, x.snapshotsRemoved, x.ownerNodeId]), [[web.value, 1, undefined]]);

  // B backs up the same VM meanwhile: its preflight leaves A's snapshot, and B's session ends cleanly.
  const b = await SnapshotSession.open({ vs: env.vs, journal: journalB, graceMs: GRACE }, { vm: win, guestFamily: 'windows', settings: DEFAULT_SETTINGS, purpose: 'backup' });
  assert.ok(b.warnings.some((w) => w.includes(`node ${nodeA.id}`) && /left alone/.test(w)), b.warnings.join(' | '));
  assert.equal((await snapshotsOf('win-app01')).length, 2);
  await b.close();
  assert.deepEqual(await names('win-app01'), [a.snapshot.node.ref.value], 'B removed only its own snapshot');

  // A finishes normally.
  assert.equal(a.consistency, 'application');
  await a.close();
  assert.deepEqual(await snapshotsOf('win-app01'), []);

  // Once C's last sign of life is older than the grace period, C counts as gone: B removes C's leftover.
  const later = await recoverLeftovers(env.vs, journalB, () => undefined, { graceMs: 1 });
  assert.deepEqual(later.map((x) => [x.vmId, x.snapshotsRemoved, x.ownerNodeId]), [[notools.value, 1, nodeC]]);
  assert.deepEqual(await snapshotsOf('app-notools01'), []);
  assert.deepEqual(await names('web-off01'), [unknown.node.ref.value], 'a snapshot naming no node is never taken for another node\'s');
  await env.vs.snapshots.remove(unknown.node.ref);
});

test('a restarted node in the same process recovers its predecessor\'s sessions, not its own live ones', async () => {
  const win = await env.vs.inventory.vm(await vmRef('win-app01'));
  const dir = join(env.dir, 'b');
  const dead = await SnapshotSession.open({ vs: env.vs, journal: journalB }, { vm: win, guestFamily: 'windows', settings: DEFAULT_SETTINGS, purpose: 'backup' });
  // The same data folder opened again (a service restart): the first journal's session is a leftover.
  const restarted = new SessionJournal(dir, loadOrCreateNodeIdentity(dir));
  const live = await SnapshotSession.open({ vs: env.vs, journal: restarted }, { vm: await env.vs.inventory.vm(await vmRef('linux-db01')), guestFamily: 'linux', settings: DEFAULT_SETTINGS, purpose: 'backup' });
  const actions = await recoverLeftovers(env.vs, restarted, () => undefined, { graceMs: GRACE });
  assert.deepEqual(actions.map((x) => [x.sessionId, x.snapshotsRemoved]), [[dead.id, 1]]);
  assert.deepEqual(await snapshotsOf('win-app01'), []);
  assert.equal((await snapshotsOf('linux-db01')).length, 1, 'the live session of the restarted node keeps its snapshot');
  await live.close();
  assert.deepEqual(await snapshotsOf('linux-db01'), []);
});
