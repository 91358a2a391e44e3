// Service texts (backend/common/service-text.ts): the English text the CLI prints and the key + parameters the
// API adds beside it for the UI's catalogs must describe the same message, nested reasons and lists included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_TEXTS, identify, say, sayList, type ServiceTextKey } from '../../backend/common/service-text.ts';
import { runToDto } from '../../backend/api/mappers.ts';
import type { Run } from '../../backend/model/job.ts';

test('every service text is found again by its key, with its parameters', () => {
  for (const key of Object.keys(SERVICE_TEXTS) as ServiceTextKey[]) {
    const names = [...new Set([...JSON.stringify(SERVICE_TEXTS[key]).matchAll(/\{(\w+)\}/g)].map((m) => m[1]!))];
    // The outcome parts of a restore failure or a failover/failback are texts of their own; any other parameter is data here.
    const texts: Record<string, string> = { cleanup: say('restore.nothingCreated'), left: '', catalogs: say('maintenance.gcCatalogs', { n: 1 }), onNetworks: '', reIp: '', repointed: '', removed: '', dirty: '', more: '', next: say('failback.next.committed') };
    const params = Object.fromEntries(names.map((n, i) => [n, texts[n] ?? (n === 'n' ? 2 : `value ${i}. of ${key}`)]));
    const got = identify(say(key, params));
    assert.equal(got?.key, key, `${key}: ${say(key, params)}`);
    for (const n of names.filter((x) => !(x in texts))) assert.equal(got?.params?.[n], String(params[n]), `${key} {${n}}`);
  }
});

test('plural forms in English: 1 restore point, 2 restore points', () => {
  assert.equal(say('maintenance.retentionRemoved', { n: 1, job: 'nightly', points: 'rp-1' }), "Removed 1 restore point by job 'nightly' retention: rp-1.");
  assert.equal(say('maintenance.retentionRemoved', { n: 2, job: 'nightly', points: 'rp-1, rp-2' }), "Removed 2 restore points by job 'nightly' retention: rp-1, rp-2.");
  assert.deepEqual(identify("Removed 1 restore point by job 'nightly' retention: rp-1."), { key: 'maintenance.retentionRemoved', params: { n: '1', job: 'nightly', points: 'rp-1' } });
});

test('a backup outcome names its reason and each disk read as texts of their own', () => {
  const text = say('backup.result.crash', {
    reason: say('consistency.notQuiesced'),
    disks: sayList([
      say('backup.diskRead', { disk: 'Hard disk 1', how: say('backup.how.full'), bytes: '1.5 MiB' }),
      say('backup.diskRead', { disk: 'Hard disk 2', how: say('backup.how.incremental'), bytes: '64 KiB' }),
    ]),
  });
  assert.equal(text, 'Crash-consistent: vSphere did not quiesce the guest (snapshot not quiesced). Read Hard disk 1 (whole disk, 1.5 MiB); Hard disk 2 (changed areas, 64 KiB).');
  assert.deepEqual(identify(text), {
    key: 'backup.result.crash',
    params: {
      reason: { key: 'consistency.notQuiesced' },
      disks: [
        { key: 'backup.diskRead', params: { disk: 'Hard disk 1', how: { key: 'backup.how.full' }, bytes: '1.5 MiB' } },
        { key: 'backup.diskRead', params: { disk: 'Hard disk 2', how: { key: 'backup.how.incremental' }, bytes: '64 KiB' } },
      ],
    },
  });
});

test('data parameters are never taken for texts, and other texts get no key', () => {
  assert.deepEqual(identify(say('restore.result', { vmName: 'done', vmId: 'vm-7' })), { key: 'restore.result', params: { vmName: 'done', vmId: 'vm-7' } });
  assert.equal(identify('FileFault: Cannot create snapshot'), undefined);
  assert.equal(identify(''), undefined);
});

test('a run on the wire carries the keys beside the English texts; a text without a key gets none', () => {
  const run: Run = {
    id: 'r1', kind: 'backup', startedAt: '2026-12-02T10:00:00Z', status: 'failed', progress: 100,
    vms: [{
      vmId: 'vm-1', vmName: 'linux-db01', status: 'failed', phase: say('phase.failed'), progress: 0, bytesRead: 0, bytesStored: 0, durationMs: 5,
      message: 'FileFault: no space', hint: say('remedy.fileFault'), warnings: ['a free text', say('warning.notQuiesced')],
    }],
  };
  const dto = runToDto(run);
  const vm = dto.vms[0]!;
  assert.equal(vm.phase, 'failed');
  assert.equal(vm.hint, run.vms[0]!.hint, 'the English text stays for the CLI');
  assert.deepEqual(vm.texts, { phase: { key: 'phase.failed' }, hint: { key: 'remedy.fileFault' }, warnings: [null, { key: 'warning.notQuiesced' }] });
  assert.equal(dto.texts, undefined);
});

test('failover and failback outcomes keep their optional parts apart: networks, re-IP, re-pointed jobs, what comes next', () => {
  const text = say('failover.groupResult', {
    group: 2,
    result: say('failover.result', { point: 'rp 1', replica: 'db_replica', onNetworks: say('failover.onNetworks', { networks: 'DR-LAN, DR-DMZ (disconnected)' }), reIp: say('failover.reIp', { pairs: '10.0.0.5 → 10.9.0.5' }) }),
  });
  assert.equal(text, "Group 2: Failed over to recovery point 'rp 1': db_replica runs on DR-LAN, DR-DMZ (disconnected); re-IP 10.0.0.5 → 10.9.0.5.");
  assert.deepEqual(identify(text), {
    key: 'failover.groupResult',
    params: {
      group: '2',
      result: { key: 'failover.result', params: { point: 'rp 1', replica: 'db_replica', onNetworks: { key: 'failover.onNetworks', params: { networks: 'DR-LAN, DR-DMZ (disconnected)' } }, reIp: { key: 'failover.reIp', params: { pairs: '10.0.0.5 → 10.9.0.5' } } } },
    },
  });
  assert.deepEqual(identify("Failed over to recovery point 'rp 1': db_replica runs."), { key: 'failover.result', params: { point: 'rp 1', replica: 'db_replica', onNetworks: '', reIp: '' } });

  const back = say('failback.newVmResult', { vm: 'db-new', bytes: '2 GiB', repointed: say('failback.repointedMany', { jobs: "'a', 'b'", vm: 'db-new' }), next: say('failback.next.newVm') });
  assert.equal(back, "Failed back to the new VM db-new: the replica's disks copied whole (2 GiB); replication jobs 'a', 'b' now replicate db-new; the new VM runs: commit or undo the failback.");
  assert.deepEqual(identify(back), {
    key: 'failback.newVmResult',
    params: { vm: 'db-new', bytes: '2 GiB', repointed: { key: 'failback.repointedMany', params: { jobs: "'a', 'b'", vm: 'db-new' } }, next: { key: 'failback.next.newVm' } },
  });
  assert.deepEqual(identify("Failed back to db01: 4 MiB changed on the replica sent back with 1 MiB sent to production (hot-add through transporter 'tp-1'); committed.")?.params?.how,
    { key: 'failback.how.hotAdd', params: { transporter: 'tp-1' } });
});

test('a replication outcome keys its consistency, reason, transport and removed points', () => {
  const text = say('replication.updated', {
    replica: 'db_replica', replicaId: 'vm-42', point: 'sp-2', consistency: say('replication.consistency.crash'), reason: say('consistency.notQuiesced'),
    bytes: '3 MiB', how: say('replication.how.hotAdd', { written: '1 MiB', compared: '8 GiB' }), removed: say('replication.removedPoints', { n: 1 }),
  });
  assert.equal(text, "Updated replica db_replica (vm-42): recovery point 'sp-2', crash-consistent (vSphere did not quiesce the guest (snapshot not quiesced)); sent 3 MiB by hot-add (1 MiB written of 8 GiB compared). Removed 1 old recovery point.");
  assert.deepEqual(identify(text), {
    key: 'replication.updated',
    params: {
      replica: 'db_replica', replicaId: 'vm-42', point: 'sp-2', consistency: { key: 'replication.consistency.crash' }, reason: { key: 'consistency.notQuiesced' },
      bytes: '3 MiB', how: { key: 'replication.how.hotAdd', params: { written: '1 MiB', compared: '8 GiB' } }, removed: { key: 'replication.removedPoints', params: { n: '1' } },
    },
  });
  assert.deepEqual(identify("Created replica r (vm-1): recovery point 'sp-1', application-consistent (from restore point rp-7); sent 2 GiB by full upload (whole disks).")?.params?.reason,
    { key: 'replication.fromRestorePoint', params: { id: 'rp-7' } });
});

test('the most specific template wins: a message being read is not a disk being read', () => {
  assert.deepEqual(identify(say('phase.readingMessage', { n: 3, total: 5 })), { key: 'phase.readingMessage', params: { n: '3', total: '5' } });
  assert.deepEqual(identify(say('phase.readingDisk', { disk: 'Hard disk 1' })), { key: 'phase.readingDisk', params: { disk: 'Hard disk 1' } });
  assert.deepEqual(identify(say('exchange.restored', { n: 2, folder: 'Restored/From backup', host: 'mail01', dirty: say('exchange.dirtyDatabase') }))?.params?.dirty, { key: 'exchange.dirtyDatabase' });
});

test('a put-back outcome keys each of its optional parts (renamed, skipped, folders, failed)', () => {
  const parts = [say('putBack.renamed', { n: 1, example: '/srv/a (restored 2026-12-02).txt' }), say('putBack.folders', { n: 2 }), say('putBack.failed', { n: 1 })];
  const text = say('putBack.result', { n: 3, size: '1.5 MiB', vm: 'linux-db01', more: say('putBack.more', { items: sayList(parts) }) });
  assert.equal(text, "Restored 3 files (1.5 MiB) into VM 'linux-db01'; 1 kept next to the existing file under a new name (e.g. /srv/a (restored 2026-12-02).txt); 2 folders made; 1 could not be written.");
  assert.deepEqual(identify(text), {
    key: 'putBack.result',
    params: {
      n: '3', size: '1.5 MiB', vm: 'linux-db01',
      more: { key: 'putBack.more', params: { items: [
        { key: 'putBack.renamed', params: { n: '1', example: '/srv/a (restored 2026-12-02).txt' } },
        { key: 'putBack.folders', params: { n: '2' } },
        { key: 'putBack.failed', params: { n: '1' } },
      ] } },
    },
  });
  assert.deepEqual(identify(say('putBack.result', { n: 1, size: '12 bytes', vm: 'w', more: '' })), { key: 'putBack.result', params: { n: '1', size: '12 bytes', vm: 'w', more: '' } });
});
