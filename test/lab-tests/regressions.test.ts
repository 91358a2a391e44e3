// Regression tests for bugs reported against the lab vCenter (test/lab), driven with raw SOAP
// (./soap.ts) and raw datastore HTTP, so what is checked is what goes over the wire.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startLab, type Lab, type LabVm } from '../lab/lab.ts';
import { all, first, ref, Soap, type Moref } from './soap.ts';

const KiB64 = 64 * 1024;
const vmRef = (value: string): Moref => ({ type: 'VirtualMachine', value });
const snapRef = (value: string): Moref => ({ type: 'VirtualMachineSnapshot', value });

/** Datastore HTTP with the SOAP session cookie; resolves with status and body, rejects when the connection breaks. */
function datastoreHttp(lab: Lab, cookie: string, method: string, ds: string, file: string, body?: Buffer) {
  const url = new URL(`/folder/${file}?dcPath=Lab-DC&dsName=${ds}`, lab.url);
  return new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
    const req = https.request(url, {
      method, ca: lab.certPem, agent: false,
      headers: { cookie, ...(body ? { 'content-length': String(body.length), 'content-type': 'application/octet-stream' } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** 64 KiB block at offset as the VM (or a snapshot's file) sees it, from the lab's chain files. Test data is never all zero. */
async function blockAt(chain: { dataPath: string }[], offset: number): Promise<Buffer> {
  for (const f of chain) {
    const fh = await open(f.dataPath, 'r');
    const buf = Buffer.alloc(KiB64);
    await fh.read(buf, 0, KiB64, offset);
    await fh.close();
    if (buf.some((b) => b !== 0)) return buf;
  }
  return Buffer.alloc(KiB64);
}

describe('lab vCenter regressions', () => {
  let lab: Lab;
  let soap: Soap;
  let vms: Record<string, LabVm>;
  before(async () => {
    lab = await startLab({ images: false });
    soap = new Soap(lab);
    await soap.login();
    vms = await lab.control.vms();
  });
  after(async () => {
    await lab?.stop();
  });

  async function snapshot(vm: Moref, name: string): Promise<string> {
    const t = await soap.task('CreateSnapshot_Task', `${ref('_this', vm)}<name>${name}</name><memory>false</memory><quiesce>false</quiesce>`);
    assert.equal(t.state, 'success', `snapshot ${name}: ${t.fault}`);
    return t.result!;
  }
  const pattern = (ch: string) => Buffer.alloc(KiB64, ch);

  test('overlay methods on an unknown or destroyed VM answer ManagedObjectNotFound, not a panic', async () => {
    const vmCalls: [string, string][] = [
      ['PowerOnVM_Task', ''], ['PowerOffVM_Task', ''], ['SuspendVM_Task', ''], ['ShutdownGuest', ''],
      ['CreateSnapshot_Task', '<name>x</name><memory>false</memory><quiesce>false</quiesce>'],
      ['CreateSnapshotEx_Task', '<name>x</name><memory>false</memory>'],
      ['QueryChangedDiskAreas', '<deviceKey>2000</deviceKey><startOffset>0</startOffset><changeId>*</changeId>'],
      ['RemoveAllSnapshots_Task', ''], ['RevertToCurrentSnapshot_Task', ''], ['ConsolidateVMDisks_Task', ''],
      ['ReconfigVM_Task', '<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>'],
    ];
    // app-notools01: give it a snapshot and CBT first, so the lab has state for it.
    const victim = vmRef(vms['app-notools01']!.moref);
    const snap = await snapshot(victim, 'before-destroy');
    assert.equal((await soap.task('PowerOffVM_Task', ref('_this', victim))).state, 'success');
    assert.equal((await soap.task('Destroy_Task', ref('_this', victim))).state, 'success');

    for (const vm of [vmRef('vm-999999'), vmRef(''), victim]) {
      for (const [method, args] of vmCalls) {
        const r = await soap.call(method, ref('_this', vm) + args);
        assert.equal(r.fault, 'ManagedObjectNotFound', `${method} on '${vm.value}': ${r.body.slice(0, 500)}`);
        assert.match(r.body, new RegExp(`<obj type="VirtualMachine">${vm.value}</obj>`), `${method}: the fault names the VM, not a lab type`);
      }
    }
    for (const [method, args] of [['RemoveSnapshot_Task', '<removeChildren>false</removeChildren>'], ['RevertToSnapshot_Task', '']]) {
      for (const s of [snapRef(snap), snapRef('snapshot-999999')]) {
        const r = await soap.call(method!, ref('_this', s) + args);
        assert.equal(r.fault, 'ManagedObjectNotFound', `${method} on ${s.value}: ${r.body.slice(0, 500)}`);
      }
    }
    // The lab forgets the destroyed VM instead of failing on it.
    const now = await lab.control.vms();
    assert.equal(now['app-notools01'], undefined);
    assert.ok(now['win-app01']);
    await assert.rejects(lab.control.writeDisk('app-notools01', 0, 0, Buffer.from('x')), /HTTP 4\d\d/);
    // Still serving SOAP.
    assert.match(await soap.property(vmRef(vms['win-app01']!.moref), 'name'), /win-app01/);
  });

  test('RemoveSnapshot_Task removeChildren=false on a snapshot with children: children re-parented, disk state kept', async () => {
    const vm = vmRef(vms['web-off01']!.moref);
    const chain = async () => (await lab.control.vms())['web-off01']!.disks[0]!.chain;
    const view = async (offsets: number[]) => {
      const c = await chain();
      return Promise.all(offsets.map(async (o) => (await blockAt(c, o))[0]));
    };
    const write = (block: number, ch: string) => lab.control.writeDisk('web-off01', 0, block * KiB64, pattern(ch));
    const A = 'A'.charCodeAt(0), B = 'B'.charCodeAt(0), C = 'C'.charCodeAt(0), D = 'D'.charCodeAt(0), E = 'E'.charCodeAt(0);

    await write(0, 'A');
    const a = await snapshot(vm, 'a');
    await write(1, 'B');
    const b = await snapshot(vm, 'b');
    await write(2, 'C');
    await write(0, 'D');
    const c = await snapshot(vm, 'c');
    await write(3, 'E');
    const filesBefore = (await chain()).length;

    // Middle snapshot b (child c): a → c, current stays c, the VM's disk is unchanged.
    const r1 = await soap.task('RemoveSnapshot_Task', `${ref('_this', snapRef(b))}<removeChildren>false</removeChildren>`);
    assert.equal(r1.state, 'success', r1.fault);
    let tree = await soap.property(vm, 'snapshot');
    assert.deepEqual(all(tree, 'name'), ['a', 'c']);
    const m = /<rootSnapshotList><snapshot type="VirtualMachineSnapshot">([^<]+)<\/snapshot>[\s\S]*<childSnapshotList><snapshot type="VirtualMachineSnapshot">([^<]+)</.exec(tree);
    assert.deepEqual([m?.[1], m?.[2]], [a, c], 'c is now a child of a');
    assert.equal(first(tree, 'currentSnapshot'), c);
    assert.equal((await chain()).length, filesBefore - 1, "b's delta is consolidated into the child chain");
    assert.deepEqual(await view([0, 1, 2, 3].map((x) => x * KiB64)), [D, B, C, E]);

    // Revert to c: its state still includes what was written before b was removed.
    assert.equal((await soap.task('RevertToSnapshot_Task', ref('_this', snapRef(c)))).state, 'success');
    assert.deepEqual(await view([0, 1, 2, 3].map((x) => x * KiB64)), [D, B, C, 0]);

    // Root snapshot a while it is current (reverted to) and has a child: this panicked vcsim.
    assert.equal((await soap.task('RevertToSnapshot_Task', ref('_this', snapRef(a)))).state, 'success');
    assert.deepEqual(await view([0, 1, 2].map((x) => x * KiB64)), [A, 0, 0]);
    const r2 = await soap.task('RemoveSnapshot_Task', `${ref('_this', snapRef(a))}<removeChildren>false</removeChildren>`);
    assert.equal(r2.state, 'success', r2.fault);
    tree = await soap.property(vm, 'snapshot');
    assert.deepEqual(all(tree, 'name'), ['c'], 'c is now a root');
    assert.equal(first(tree, 'currentSnapshot'), undefined, 'no current snapshot after removing the current root');
    assert.doesNotMatch(tree, /<currentSnapshot/);
    assert.deepEqual(await view([0, 1, 2].map((x) => x * KiB64)), [A, 0, 0], 'the running state is unchanged');
    assert.equal((await soap.task('RevertToSnapshot_Task', ref('_this', snapRef(c)))).state, 'success');
    assert.deepEqual(await view([0, 1, 2, 3].map((x) => x * KiB64)), [D, B, C, 0]);
    assert.equal((await soap.call('RemoveSnapshot_Task', `${ref('_this', snapRef(a))}<removeChildren>false</removeChildren>`)).fault,
      'ManagedObjectNotFound', 'a removed snapshot is gone');

    // removeChildren=true unregisters the children too.
    const d = await snapshot(vm, 'd');
    const r3 = await soap.task('RemoveSnapshot_Task', `${ref('_this', snapRef(c))}<removeChildren>true</removeChildren>`);
    assert.equal(r3.state, 'success', r3.fault);
    assert.equal(await soap.property(vm, 'snapshot'), '');
    assert.equal((await soap.call('RevertToSnapshot_Task', ref('_this', snapRef(d)))).fault, 'ManagedObjectNotFound');
    const final = await chain();
    assert.equal(final.length, 1, 'back on the flat file');
    assert.deepEqual(await view([0, 1, 2, 3].map((x) => x * KiB64)), [D, B, C, 0]);
  });

  test('SearchIndex.FindByUuid finds VMs by BIOS and instance uuid, hosts by hardware uuid, nothing for unknown uuids', async () => {
    // Make sure lab overlay objects exist in vcsim's registry (they broke vcsim's walk over it).
    for (const v of Object.values(await lab.control.vms())) {
      await soap.call('QueryChangedDiskAreas', `${ref('_this', vmRef(v.moref))}<deviceKey>2000</deviceKey><startOffset>0</startOffset><changeId>*</changeId>`);
    }
    const si = ref('_this', { type: 'SearchIndex', value: 'SearchIndex' });
    const find = async (uuid: string, vmSearch: boolean, instanceUuid?: boolean, dc?: string) => {
      const body = await soap.ok('FindByUuid', `${si}${dc ? ref('datacenter', { type: 'Datacenter', value: dc }) : ''}<uuid>${uuid}</uuid><vmSearch>${vmSearch}</vmSearch>${instanceUuid === undefined ? '' : `<instanceUuid>${instanceUuid}</instanceUuid>`}`);
      return first(body, 'returnval');
    };
    const bios = await soap.list('VirtualMachine', 'config.uuid');
    const instance = await soap.list('VirtualMachine', 'config.instanceUuid');
    assert.ok(bios.size >= 3);
    for (const [moref, uuid] of bios) {
      assert.equal(await find(uuid, true), moref);
      assert.equal(await find(uuid, true, false), moref);
      assert.equal(await find(uuid.toUpperCase(), true), moref);
      assert.equal(await find(instance.get(moref)!, true, true), moref);
      assert.equal(await find(uuid, true, true), undefined, 'a BIOS uuid is not an instance uuid');
    }
    const [dc] = [...(await soap.list('Datacenter', 'name')).keys()];
    const [someVm, someUuid] = [...bios][0]!;
    assert.equal(await find(someUuid, true, false, dc), someVm);
    for (const [moref, uuid] of await soap.list('HostSystem', 'summary.hardware.uuid')) {
      assert.equal(await find(uuid, false), moref);
    }
    assert.equal(await find('00000000-0000-0000-0000-000000000000', true), undefined);
    assert.equal(await find('00000000-0000-0000-0000-000000000000', true, true), undefined);
    assert.equal(await find('not-a-uuid', false), undefined);
  });

  test('Datastore.host lists every host that mounts it, consistent with HostSystem.datastore', async () => {
    const hostNames = await soap.list('HostSystem', 'name');
    const mounted = new Map<string, Set<string>>(); // datastore → hosts, from the hosts' side
    for (const [host, val] of await soap.list('HostSystem', 'datastore')) {
      for (const ds of all(val, 'ManagedObjectReference')) {
        if (!mounted.has(ds)) mounted.set(ds, new Set());
        mounted.get(ds)!.add(host);
      }
    }
    const dsNames = await soap.list('Datastore', 'name');
    const dsHosts = await soap.list('Datastore', 'host');
    assert.equal(dsHosts.size, 3);
    for (const [ds, val] of dsHosts) {
      const keys = all(val, 'key');
      assert.equal(new Set(keys).size, keys.length, `${dsNames.get(ds)}: each host once`);
      assert.deepEqual(new Set(keys), mounted.get(ds) ?? new Set(), `${dsNames.get(ds)}: Datastore.host vs HostSystem.datastore`);
    }
    const byName = (n: string) => [...dsNames].find(([, name]) => name === n)![0];
    const names = (ds: string) => all(dsHosts.get(byName(ds))!, 'key').map((h) => hostNames.get(h)).sort();
    assert.deepEqual(names('prod-ds1'), ['esx-prod-01.lab.local', 'esx-prod-02.lab.local']);
    assert.deepEqual(names('prod-ds2'), ['esx-prod-01.lab.local', 'esx-prod-02.lab.local']);
    assert.deepEqual(names('dr-ds1'), ['esx-dr-01.lab.local']);
  });

  test('DatastoreGet with fault "" only delays the download (it used to cut it after 0 bytes)', async () => {
    const v = vms['win-app01']!;
    const local = readFileSync(v.disks[0]!.descriptorPath);
    await lab.control.injectFault({ method: 'DatastoreGet', fault: '', delayMs: 300, path: 'win-app01.vmdk' });
    const t0 = Date.now();
    const r = await datastoreHttp(lab, soap.sessionCookie, 'GET', v.datastore, `${v.dir}/win-app01.vmdk`);
    assert.ok(Date.now() - t0 >= 290, 'delayed');
    assert.equal(r.status, 200);
    assert.ok(r.body.equals(local), 'the whole file');
    assert.deepEqual(await lab.control.faults(), [], 'the rule is used up');
  });

  test('DatastorePut faults: WriteFault drops the upload after afterBytes, status faults, delay only', async () => {
    const v = vms['win-app01']!;
    const put = (name: string, body: Buffer) => datastoreHttp(lab, soap.sessionCookie, 'PUT', v.datastore, `${v.dir}/${name}`, body);
    const local = (name: string) => path.join(v.datastoreDir, name);
    const data = randomBytes(3 << 20);

    // WriteFault: the connection breaks, the first afterBytes bytes are in the file.
    await lab.control.injectFault({ method: 'DatastorePut', fault: 'WriteFault', path: 'upload-cut.bin', afterBytes: 100_000 });
    await assert.rejects(put('upload-cut.bin', data), /ECONNRESET|EPIPE|socket hang up/);
    assert.equal(statSync(local('upload-cut.bin')).size, 100_000);
    assert.ok(readFileSync(local('upload-cut.bin')).equals(data.subarray(0, 100_000)));
    assert.deepEqual(await lab.control.faults(), []);
    // The retry goes through.
    assert.equal((await put('upload-cut.bin', data)).status, 200);
    assert.ok(readFileSync(local('upload-cut.bin')).equals(data));

    // Status faults: nothing is stored.
    await lab.control.injectFault({ method: 'DatastorePut', fault: 'NoDiskSpace', vm: v.dir });
    const full = await put('upload-full.bin', data);
    assert.equal(full.status, 507);
    assert.match(full.body.toString(), /NoDiskSpace/);
    assert.equal(existsSync(local('upload-full.bin')), false);
    await lab.control.injectFault({ method: 'DatastorePut', fault: 'FileFault', path: 'upload-ff.bin' });
    assert.equal((await put('upload-ff.bin', data.subarray(0, 1000))).status, 500);
    assert.equal(existsSync(local('upload-ff.bin')), false);

    // Delay only.
    await lab.control.injectFault({ method: 'DatastorePut', fault: '', delayMs: 300, path: 'upload-slow.bin' });
    const t0 = Date.now();
    assert.equal((await put('upload-slow.bin', data)).status, 200);
    assert.ok(Date.now() - t0 >= 290, 'delayed');
    assert.ok(readFileSync(local('upload-slow.bin')).equals(data));

    // DatastorePut rules leave downloads alone and vice versa.
    await lab.control.injectFault({ method: 'DatastorePut', fault: 'FileFault', path: 'upload-slow.bin' });
    const got = await datastoreHttp(lab, soap.sessionCookie, 'GET', v.datastore, `${v.dir}/upload-slow.bin`);
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(data));
    assert.equal((await lab.control.faults()).length, 1);
    await lab.control.clearFaults();
  });
});
