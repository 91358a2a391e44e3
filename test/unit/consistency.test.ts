// Consistency is what vSphere reported after the snapshot, never what was asked for: the table of
// facts → verdict, with the reason an admin reads next to each restore point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from '../../backend/sources/snapshot/consistency.ts';
import type { VssManifest } from '../../backend/model/vss.ts';

const vss = (...names: string[]): VssManifest => ({ backupType: 'copy', writers: names.map((name, i) => ({ writerId: `{w${i}}`, name, components: [] })) });

test('a snapshot that is not quiesced is crash-consistent, whatever else happened', () => {
  for (const guestFamily of ['windows', 'linux', 'other'] as const) {
    const r = classify({ quiesced: false, guestFamily, preFreezeSucceeded: true, vss: vss('SqlServerWriter') });
    assert.deepEqual(r, { consistency: 'crash', reason: 'vSphere did not quiesce the guest (snapshot not quiesced)' });
  }
});

test('Windows: VSS writers that took part make it application-consistent and are named in the reason', () => {
  assert.deepEqual(classify({ quiesced: true, guestFamily: 'windows', preFreezeSucceeded: false, vss: vss('SqlServerWriter', 'NTDS') }),
    { consistency: 'application', reason: 'VSS writers took part: SqlServerWriter, NTDS' });
});

test('Windows quiesced without writers, or without a manifest, is filesystem-consistent and says which', () => {
  assert.deepEqual(classify({ quiesced: true, guestFamily: 'windows', preFreezeSucceeded: false, vss: vss() }),
    { consistency: 'filesystem', reason: 'quiesced, but no VSS writer took part' });
  assert.deepEqual(classify({ quiesced: true, guestFamily: 'windows', preFreezeSucceeded: false }),
    { consistency: 'filesystem', reason: 'quiesced, but VMware Tools left no VSS manifest' });
});

test('Linux and others: the user\'s pre-freeze script that quiesced the application makes it application-consistent', () => {
  assert.equal(classify({ quiesced: true, guestFamily: 'linux', preFreezeSucceeded: true }).consistency, 'application');
  assert.deepEqual(classify({ quiesced: true, guestFamily: 'linux', preFreezeSucceeded: false }),
    { consistency: 'filesystem', reason: 'file systems quiesced by VMware Tools' });
  assert.equal(classify({ quiesced: true, guestFamily: 'other', preFreezeSucceeded: false }).consistency, 'filesystem');
});

test('Linux VSS writers mean nothing (there is no VSS): still filesystem-consistent', () => {
  assert.equal(classify({ quiesced: true, guestFamily: 'linux', preFreezeSucceeded: false, vss: vss('SqlServerWriter') }).consistency, 'filesystem');
});
