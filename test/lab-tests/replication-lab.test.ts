// What the lab vCenter offers replication (test/lab/vcsim/networks.go, hotadd.go), checked the way a
// client sees it over SOAP: portgroups linked to their hosts with the isolated test bubble, NIC edits
// with the device as read, hot-add of a replica's disk chain into the DR transporter, FileLocked, and the
// snapshot depth limit.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startLab, type Lab } from '../lab/lab.ts';
import { all, first, ref, Soap, type Moref } from './soap.ts';

const MiB = 1 << 20;
const vmRef = (value: string): Moref => ({ type: 'VirtualMachine', value });

/** The inner XML of every device of a type in config.hardware.device, as a client re-sends it (xsi prefix). */
function devicesOf(xml: string, type: string): string[] {
  const re = new RegExp(`<VirtualDevice [^>]*type="${type}">([\\s\\S]*?)</VirtualDevice>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]!.replace(/XMLSchema-instance:type=/g, 'xsi:type='));
}

describe('lab vCenter for replication', () => {
  let lab: Lab;
  let soap: Soap;
  let hosts: Map<string, string>; // moref -> name
  let nets: Map<string, string>; // name -> moref

  before(async () => {
    lab = await startLab({ images: false, replication: true });
    soap = new Soap(lab);
    await soap.login();
    hosts = new Map([...(await soap.list('HostSystem', 'name'))].map(([k, v]) => [k, v]));
    nets = new Map([...(await soap.list('Network', 'name'))].map(([k, v]) => [v, k]));
  });
  after(async () => {
    await lab?.stop();
  });

  const hostNames = (xml: string) => all(xml, 'ManagedObjectReference').map((v) => hosts.get(v)).sort();

  test('production, DR and isolated networks are linked to the right hosts', async () => {
    const expect: Record<string, string[]> = {
      'VM Network': ['esx-dr-01.lab.local', 'esx-prod-01.lab.local', 'esx-prod-02.lab.local'],
      'Prod-App': ['esx-prod-01.lab.local', 'esx-prod-02.lab.local'],
      'DR-Network': ['esx-dr-01.lab.local'],
      'DR-App': ['esx-dr-01.lab.local'],
      'Stillpoint-Test-Isolated': ['esx-dr-01.lab.local'],
    };
    for (const [name, want] of Object.entries(expect)) {
      const net = nets.get(name);
      assert.ok(net, `network ${name} exists`);
      assert.deepEqual(hostNames(await soap.property({ type: 'Network', value: net }, 'host')), want, `${name}: Network.host`);
      const summary = await soap.property({ type: 'Network', value: net }, 'summary');
      assert.equal(first(summary, 'name'), name);
      assert.equal(first(summary, 'accessible'), 'true');
    }
    const dr = [...hosts].find(([, n]) => n === 'esx-dr-01.lab.local')![0];
    const drNets = await soap.property({ type: 'HostSystem', value: dr }, 'network');
    assert.deepEqual(all(drNets, 'ManagedObjectReference').sort(),
      ['VM Network', 'DR-Network', 'DR-App', 'Stillpoint-Test-Isolated'].map((n) => nets.get(n)!).sort(), 'HostSystem.network of the DR host');
    const prod = [...hosts].find(([, n]) => n === 'esx-prod-01.lab.local')![0];
    assert.ok(!all(await soap.property({ type: 'HostSystem', value: prod }, 'network'), 'ManagedObjectReference').includes(nets.get('DR-Network')!));

    // The isolated portgroup is on a vSwitch without uplinks; the others' vSwitch has one.
    const net = await soap.property({ type: 'HostSystem', value: dr }, 'config.network');
    const switches = [...net.matchAll(/<vswitch>([\s\S]*?)<\/vswitch>/g)].map((m) => m[1]!);
    const isolated = switches.find((s) => all(s, 'portgroup').includes('key-vim.host.PortGroup-Stillpoint-Test-Isolated'));
    assert.ok(isolated, 'a vSwitch carries the isolated portgroup');
    assert.deepEqual(all(isolated, 'pnic'), []);
    assert.equal(all(isolated, 'portgroup').length, 1);
    const uplinked = switches.find((s) => all(s, 'portgroup').includes('key-vim.host.PortGroup-DR-Network'));
    assert.deepEqual(all(uplinked!, 'pnic'), ['key-vim.host.PhysicalNic-vmnic0']);
  });

  test('a NIC edited with the device as read moves to another network and disconnects; a network the host lacks is refused', async () => {
    const vm = vmRef((await lab.control.vms())['win-app01']!.moref);
    const devices = await soap.property(vm, 'config.hardware.device');
    const read = devicesOf(devices, 'VirtualVmxnet3')[0];
    assert.ok(read, 'win-app01 has a vmxnet3 NIC');
    assert.equal(first(read, 'deviceName'), 'Prod-App');
    const edit = (inner: string) => `${ref('_this', vm)}<spec><deviceChange><operation>edit</operation><device xsi:type="VirtualVmxnet3">${inner}</device></deviceChange></spec>`;
    const moved = read
      .replace(/<deviceName>[^<]*<\/deviceName>/, '<deviceName>VM Network</deviceName>')
      .replace(/(<network type="Network">)[^<]*(<\/network>)/, `$1${nets.get('VM Network')}$2`)
      .replace(/<connected>true<\/connected>/, '<connected>false</connected>');
    assert.equal((await soap.task('ReconfigVM_Task', edit(moved))).state, 'success');
    const now = devicesOf(await soap.property(vm, 'config.hardware.device'), 'VirtualVmxnet3')[0]!;
    assert.equal(first(now, 'deviceName'), 'VM Network');
    assert.equal(/<network type="Network">([^<]*)</.exec(now)?.[1], nets.get('VM Network'));
    assert.equal(/<connectable>[\s\S]*?<connected>(\w+)<\/connected>/.exec(now)?.[1], 'false');
    assert.equal(first(now, 'macAddress'), first(read, 'macAddress'), 'same MAC address');
    assert.deepEqual(all(await soap.property(vm, 'network'), 'ManagedObjectReference'), [nets.get('VM Network')]);
    assert.equal(first(await soap.property(vm, 'guest.net'), 'network'), 'VM Network');

    // Without deviceInfo (vcsim 0.24.2 panicked), back to Prod-App, connected.
    const back = now.replace(/<deviceInfo[\s\S]*?<\/deviceInfo>/, '')
      .replace(/<deviceName>[^<]*<\/deviceName>/, '<deviceName>Prod-App</deviceName>')
      .replace(/<connected>false<\/connected>/, '<connected>true</connected>');
    assert.equal((await soap.task('ReconfigVM_Task', edit(back))).state, 'success');
    const again = devicesOf(await soap.property(vm, 'config.hardware.device'), 'VirtualVmxnet3')[0]!;
    assert.equal(first(again, 'deviceName'), 'Prod-App');
    assert.equal(first(again, 'label'), first(read, 'label'), 'the label is kept');

    // DR-Network is not on win-app01's production host.
    const wrong = await soap.task('ReconfigVM_Task', edit(again.replace(/<deviceName>[^<]*<\/deviceName>/, '<deviceName>DR-Network</deviceName>')));
    assert.deepEqual([wrong.state, wrong.fault], ['error', 'InvalidDeviceBacking']);
    assert.equal(first(devicesOf(await soap.property(vm, 'config.hardware.device'), 'VirtualVmxnet3')[0]!, 'deviceName'), 'Prod-App');
  });

  test('hot-add into the transporter: the chain top of a powered-off replica, FileLocked while running, remove keeps the files', async () => {
    const vms = await lab.control.vms();
    const transporter = vms['dr-transporter01']!;
    assert.equal(transporter.powerState, 'poweredOn');
    assert.equal(transporter.toolsRunning, true);
    const helper = vmRef(transporter.moref);
    assert.equal(hosts.get(await soap.property(helper, 'runtime.host')), 'esx-dr-01.lab.local');

    // A replica on dr-ds1, made with CreateVM as replication does; two recovery points.
    const rep = await createReplica('rep-web01');
    const [a, b, c] = [randomBytes(MiB), randomBytes(MiB), randomBytes(64 * 1024)];
    await lab.control.writeDisk('rep-web01', 0, 0, a);
    assert.equal((await soap.task('CreateSnapshot_Task', `${ref('_this', rep)}<name>rp1</name><memory>false</memory><quiesce>false</quiesce>`)).state, 'success');
    await lab.control.writeDisk('rep-web01', 0, MiB, b);
    assert.equal((await soap.task('CreateSnapshot_Task', `${ref('_this', rep)}<name>rp2</name><memory>false</memory><quiesce>false</quiesce>`)).state, 'success');
    await lab.control.writeDisk('rep-web01', 0, 2 * MiB, c);
    const owner = (await lab.control.vms())['rep-web01']!.disks[0]!;
    assert.equal(owner.chain.length, 3);
    assert.equal(owner.currentFileName, '[dr-ds1] rep-web01/rep-web01-000002.vmdk');

    const add = `${ref('_this', helper)}<spec><deviceChange><operation>add</operation><device xsi:type="VirtualDisk"><key>-1</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>${owner.fileName}</fileName><diskMode>persistent</diskMode></backing><controllerKey>1000</controllerKey></device></deviceChange></spec>`;

    // Powered on, the replica's disk is locked.
    assert.equal((await soap.task('PowerOnVM_Task', ref('_this', rep))).state, 'success');
    const locked = await soap.task('ReconfigVM_Task', add);
    assert.deepEqual([locked.state, locked.fault], ['error', 'FileLocked']);
    assert.equal((await soap.task('PowerOffVM_Task', ref('_this', rep))).state, 'success');

    // Powered off: attached, naming the base file gives the chain's top with its parents.
    assert.equal((await soap.task('ReconfigVM_Task', add)).state, 'success');
    const disks = devicesOf(await soap.property(helper, 'config.hardware.device'), 'VirtualDisk');
    assert.equal(disks.length, 2, 'its own disk and the attached one');
    const attached = disks.find((d) => first(d, 'fileName') === owner.currentFileName);
    assert.ok(attached, `the helper's new disk names the top: ${disks.map((d) => first(d, 'fileName')).join(', ')}`);
    assert.deepEqual(all(attached, 'fileName'), owner.chain.map((f) => f.fileName), 'backing.parent chain down to the base');
    assert.equal(first(attached, 'unitNumber'), '1', 'the next free SCSI slot');
    const key = Number(first(attached, 'key'));

    // The device the transporter opens: the top's data file, the whole disk readable through it.
    const seen = (await lab.control.vms())['dr-transporter01']!.disks.find((d) => d.key === key)!;
    assert.deepEqual(seen.attachedFrom, { vm: 'rep-web01', diskKey: owner.key, fileName: owner.fileName });
    assert.equal(seen.flatPath, owner.chain[0]!.dataPath);
    const d = randomBytes(128 * 1024);
    const dev = await open(seen.flatPath, 'r+');
    try {
      for (const [off, want] of [[0, a], [MiB, b], [2 * MiB, c]] as const) {
        const got = Buffer.alloc(want.length);
        await dev.read(got, 0, got.length, off);
        assert.ok(got.equals(want), `device bytes at ${off}`);
      }
      await dev.write(d, 0, d.length, 5 * MiB);
    } finally {
      await dev.close();
    }

    // While the running helper holds it, the replica cannot take a snapshot.
    const busy = await soap.task('CreateSnapshot_Task', `${ref('_this', rep)}<name>rp3</name><memory>false</memory><quiesce>false</quiesce>`);
    assert.deepEqual([busy.state, busy.fault], ['error', 'FileLocked']);
    const start = await soap.task('PowerOnVM_Task', ref('_this', rep));
    assert.deepEqual([start.state, start.fault], ['error', 'FileLocked'], 'nor power on');

    // Detach (no fileOperation): the files stay, the replica's disk holds what was written.
    const remove = `${ref('_this', helper)}<spec><deviceChange><operation>remove</operation><device xsi:type="VirtualDisk">${attached}</device></deviceChange></spec>`;
    assert.equal((await soap.task('ReconfigVM_Task', remove)).state, 'success');
    assert.equal(devicesOf(await soap.property(helper, 'config.hardware.device'), 'VirtualDisk').length, 1);
    for (const f of owner.chain) assert.ok(existsSync(f.dataPath) && existsSync(f.descriptorPath), `${f.fileName} is kept`);
    assert.equal((await soap.task('CreateSnapshot_Task', `${ref('_this', rep)}<name>rp3</name><memory>false</memory><quiesce>false</quiesce>`)).state, 'success');
    assert.equal((await soap.task('RemoveAllSnapshots_Task', ref('_this', rep))).state, 'success');
    const flat = await readFile((await lab.control.vms())['rep-web01']!.disks[0]!.flatPath);
    for (const [off, want] of [[0, a], [MiB, b], [2 * MiB, c], [5 * MiB, d]] as const) {
      assert.ok(flat.subarray(off, off + want.length).equals(want), `consolidated disk at ${off}`);
    }

    // Without snapshots the device is the flat file itself.
    assert.equal((await soap.task('ReconfigVM_Task', add)).state, 'success');
    const again = (await lab.control.vms())['dr-transporter01']!.disks.find((x) => x.attachedFrom?.vm === 'rep-web01')!;
    assert.equal(again.flatPath, owner.flatPath);
    assert.equal(again.fileName, owner.fileName);
    const reattached = devicesOf(await soap.property(helper, 'config.hardware.device'), 'VirtualDisk').find((x) => first(x, 'fileName') === owner.fileName)!;
    assert.equal((await soap.task('ReconfigVM_Task', `${ref('_this', helper)}<spec><deviceChange><operation>remove</operation><device xsi:type="VirtualDisk">${reattached}</device></deviceChange></spec>`)).state, 'success');
    assert.equal((await lab.control.vms())['dr-transporter01']!.disks.length, 1, 'detached');
  });

  test('snapshot depth: the 33rd level is TooManySnapshotLevels', async () => {
    const vm = await createReplica('rep-deep01');
    for (let i = 1; i <= 32; i++) {
      const r = await soap.task('CreateSnapshot_Task', `${ref('_this', vm)}<name>s${i}</name><memory>false</memory><quiesce>false</quiesce>`);
      assert.equal(r.state, 'success', `snapshot ${i}`);
    }
    const r = await soap.task('CreateSnapshot_Task', `${ref('_this', vm)}<name>s33</name><memory>false</memory><quiesce>false</quiesce>`);
    assert.deepEqual([r.state, r.fault], ['error', 'TooManySnapshotLevels']);
    assert.equal((await lab.control.vms())['rep-deep01']!.disks[0]!.chain.length, 33, '32 deltas on the base, no 33rd');
  });

  test('a replica disk grows with ReconfigVM once it has no snapshots; with a snapshot it is InvalidDeviceOperation', async () => {
    const vm = await createReplica('rep-grow01');
    const grow = async () => {
      const disk = devicesOf(await soap.property(vm, 'config.hardware.device'), 'VirtualDisk')[0]!
        .replace(/<capacityInKB>\d+<\/capacityInKB>/, '<capacityInKB>32768</capacityInKB>')
        .replace(/<capacityInBytes>\d+<\/capacityInBytes>/, `<capacityInBytes>${32 * MiB}</capacityInBytes>`);
      return soap.task('ReconfigVM_Task', `${ref('_this', vm)}<spec><deviceChange><operation>edit</operation><device xsi:type="VirtualDisk">${disk}</device></deviceChange></spec>`);
    };
    assert.equal((await soap.task('CreateSnapshot_Task', `${ref('_this', vm)}<name>rp1</name><memory>false</memory><quiesce>false</quiesce>`)).state, 'success');
    const refused = await grow();
    assert.deepEqual([refused.state, refused.fault], ['error', 'InvalidDeviceOperation']);
    assert.equal((await soap.task('RemoveAllSnapshots_Task', ref('_this', vm))).state, 'success');
    assert.equal((await grow()).state, 'success');
    const disk = devicesOf(await soap.property(vm, 'config.hardware.device'), 'VirtualDisk')[0]!;
    assert.equal(first(disk, 'capacityInBytes'), String(32 * MiB));
    const lab0 = (await lab.control.vms())['rep-grow01']!.disks[0]!;
    assert.equal(lab0.capacityBytes, 32 * MiB);
    assert.equal((await readFile(lab0.flatPath)).length, 32 * MiB);
    assert.match(await readFile(lab0.descriptorPath, 'utf8'), new RegExp(`^RW ${(32 * MiB) / 512} VMFS`, 'm'));
    const tail = randomBytes(4096);
    await lab.control.writeDisk('rep-grow01', 0, 30 * MiB, tail);
    assert.ok((await readFile(lab0.flatPath)).subarray(30 * MiB, 30 * MiB + 4096).equals(tail), 'the new space is writable');
  });

  /** A powered-off VM with a 16 MiB thin disk on dr-ds1 at the DR host, made with CreateVM_Task. */
  async function createReplica(name: string): Promise<Moref> {
    const folder = [...(await soap.list('Datacenter', 'vmFolder')).values()][0]!;
    const clusters = await soap.list('ClusterComputeResource', 'name');
    const drCluster = [...clusters].find(([, n]) => n === 'DR')![0];
    const pool = await soap.property({ type: 'ClusterComputeResource', value: drCluster }, 'resourcePool');
    const host = [...hosts].find(([, n]) => n === 'esx-dr-01.lab.local')![0];
    const disk = `<deviceChange><operation>add</operation><fileOperation>create</fileOperation><device xsi:type="VirtualDisk"><key>-1</key><backing xsi:type="VirtualDiskFlatVer2BackingInfo"><fileName>[dr-ds1] ${name}/${name}.vmdk</fileName><diskMode>persistent</diskMode><thinProvisioned>true</thinProvisioned></backing><controllerKey>1000</controllerKey><unitNumber>0</unitNumber><capacityInKB>16384</capacityInKB></device></deviceChange>`;
    const scsi = '<deviceChange><operation>add</operation><device xsi:type="ParaVirtualSCSIController"><key>1000</key><busNumber>0</busNumber><sharedBus>noSharing</sharedBus></device></deviceChange>';
    const config = `<config><name>${name}</name><guestId>ubuntu64Guest</guestId><files><vmPathName>[dr-ds1] ${name}/${name}.vmx</vmPathName></files><numCPUs>1</numCPUs><memoryMB>512</memoryMB>${scsi}${disk}</config>`;
    const r = await soap.task('CreateVM_Task', `${ref('_this', { type: 'Folder', value: folder })}${config}${ref('pool', { type: 'ResourcePool', value: pool })}${ref('host', { type: 'HostSystem', value: host })}`);
    assert.equal(r.state, 'success', `CreateVM ${name}: ${r.fault}`);
    return vmRef(r.result!);
  }
});
