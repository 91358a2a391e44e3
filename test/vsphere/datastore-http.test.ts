// Datastore HTTP (/folder) against the lab vCenter: ranged reads compared with the local flat files, uploads.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  FileFaultError, mor, parseDatastorePath, parseVmdkDescriptor, siblingPath, VSphereError, type VSphere,
} from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

describe('vsphere: datastore HTTP', () => {
  let lab: Lab;
  let vs: VSphere;
  let labVms: Record<string, LabVm>;
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession());
    // Known content in the disk.
    await lab.control.writeDisk('win-app01', 0, 0, randomBytes(4 * 1024 * 1024));
    await lab.control.writeDisk('win-app01', 0, 30 * 1024 * 1024 + 7, randomBytes(1_000_000));
  });
  after(() => stopLabSession(lab, vs));

  it('parses datastore paths and VMDK descriptors', () => {
    assert.deepEqual(parseDatastorePath('[prod-ds1] win-app01/win-app01.vmdk'), { datastore: 'prod-ds1', path: 'win-app01/win-app01.vmdk' });
    assert.equal(siblingPath('[ds] a/b.vmdk', 'b-flat.vmdk'), '[ds] a/b-flat.vmdk');
    const d = parseVmdkDescriptor('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="vmfs"\n\n' +
      'RW 2097152 VMFS "x-flat.vmdk"\nRW 10 VMFSSPARSE "x-delta.vmdk" 0\n\nddb.adapterType = "lsilogic"\nddb.uuid = "60 00"\n');
    assert.equal(d.createType, 'vmfs');
    assert.deepEqual(d.extents[0], { access: 'RW', sizeSectors: 2097152, type: 'VMFS', file: 'x-flat.vmdk' });
    assert.equal(d.extents[1]!.offset, 0);
    assert.equal(d.ddb.adapterType, 'lsilogic');
  });

  it('resolves the flat extent from the descriptor', async () => {
    const l = labVms['win-app01']!;
    const { extentPath, descriptor } = await vs.datastores.resolveExtent(l.disks[0]!.fileName);
    assert.equal(extentPath, `[${l.datastore}] ${l.dir}/${l.disks[0]!.flatPath.split('/').pop()}`);
    assert.equal(descriptor.extents[0]!.sizeSectors * 512, l.disks[0]!.capacityBytes);
  });

  it('a disk split into several extent files is refused, naming them and what to do', async () => {
    const l = labVms['win-app01']!;
    const p = `[${l.datastore}] ${l.dir}/split.vmdk`;
    await vs.datastores.put(p, Buffer.from('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="twoGbMaxExtentFlat"\n\n' +
      'RW 4192256 FLAT "split-f001.vmdk" 0\nRW 4192256 FLAT "split-f002.vmdk" 0\n\nddb.adapterType = "lsilogic"\n'));
    await assert.rejects(vs.datastores.resolveExtent(p), (err: unknown) => err instanceof VSphereError && err.fault === 'UnsupportedDiskFormat' &&
      /split into 2 extent files \(split-f001\.vmdk, split-f002\.vmdk\)/.test(err.message) && /vmkfstools -i/.test(err.hint));
  });

  it('ranged reads return exactly the bytes of the flat file (buffer, stream, parallel)', async () => {
    const l = labVms['win-app01']!;
    const { extentPath } = await vs.datastores.resolveExtent(l.disks[0]!.fileName);
    const local = readFileSync(l.disks[0]!.flatPath);
    assert.equal(await vs.datastores.size(extentPath), local.length);
    const ranges = [[0, 1], [0, 512], [511, 1537], [1024 * 1024 - 3, 1024 * 1024 + 65536 + 5], [30 * 1024 * 1024, 31 * 1024 * 1024 + 99],
      [local.length - 100, local.length]] as const;
    for (const [start, end] of ranges) {
      const got = await vs.datastores.read(extentPath, { start, end });
      assert.ok(got.equals(local.subarray(start, end)), `range ${start}-${end}`);
    }
    const s = await vs.datastores.readStream(extentPath, { start: 100, end: 2_000_100 });
    const chunks: Buffer[] = [];
    for await (const c of s) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(local.subarray(100, 2_000_100)));
    // 32 parallel 1 MiB reads over the keep-alive agent.
    const parts = await Promise.all(Array.from({ length: 32 }, (_, i) =>
      vs.datastores.read(extentPath, { start: i * 1024 * 1024, end: (i + 1) * 1024 * 1024 })));
    assert.ok(Buffer.concat(parts).equals(local.subarray(0, 32 * 1024 * 1024)));
  });

  it('reads the snapshot disk chain while a snapshot exists', async () => {
    const l = labVms['win-app01']!;
    const s = await vs.snapshots.create(mor('VirtualMachine', l.moref), { name: 'read' });
    try {
      const disk = s.disks[0]!;
      const frozen = disk.parents.at(-1) ?? disk.fileName;
      const { extentPath } = await vs.datastores.resolveExtent(frozen);
      const got = await vs.datastores.read(extentPath, { start: 0, end: 65536 });
      assert.ok(got.equals(readFileSync(l.disks[0]!.flatPath).subarray(0, 65536)));
    } finally {
      await vs.snapshots.remove(s.node.ref);
    }
  });

  it('uploads a whole file with PUT (buffer and stream)', async () => {
    const l = labVms['web-off01']!;
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const p = `[${l.datastore}] ${l.dir}/stillpoint-upload.bin`;
    await vs.datastores.put(p, data);
    assert.ok(readFileSync(join(l.datastoreDir, 'stillpoint-upload.bin')).equals(data));
    const { Readable } = await import('node:stream');
    await vs.datastores.put(p, Readable.from([data.subarray(0, 1000), data.subarray(1000)]), { size: data.length });
    assert.ok((await vs.datastores.read(p)).equals(data));
  });

  it('direct-to-host route: one-time generic service ticket as vmware_cgi_ticket', async () => {
    const l = labVms['win-app01']!;
    const { extentPath } = await vs.datastores.resolveExtent(l.disks[0]!.fileName);
    const [dc] = await vs.inventory.datacenters();
    // The lab has no separate ESXi endpoints; its vCenter stands in for the host.
    const route = { hostName: lab.host, port: lab.port, dcPath: dc!.path, session: vs.session };
    const target = await vs.datastores.hostTarget(extentPath, route, 'httpGet');
    assert.match(target.cookie ?? '', /^vmware_cgi_ticket=.{8,}/);
    const got = await vs.datastores.read(extentPath, { start: 4096, end: 8192, route });
    assert.ok(got.equals(readFileSync(l.disks[0]!.flatPath).subarray(4096, 8192)));
  });

  it('a missing file → FileNotFound', async () => {
    await assert.rejects(vs.datastores.read('[prod-ds1] nope/nope.vmdk', { start: 0, end: 10 }), FileFaultError);
  });

  it('a connection cut mid-transfer → ShortRead, never a silently short buffer', async () => {
    const l = labVms['win-app01']!;
    const { extentPath } = await vs.datastores.resolveExtent(l.disks[0]!.fileName);
    await lab.control.injectFault({ method: 'DatastoreGet', fault: 'ReadFault', path: 'win-app01-flat', afterBytes: 100_000 });
    try {
      await assert.rejects(vs.datastores.read(extentPath, { start: 0, end: 1024 * 1024 }),
        (err: unknown) => err instanceof VSphereError && err.fault === 'ShortRead');
    } finally {
      await lab.control.clearFaults();
    }
  });
});
