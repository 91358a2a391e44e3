// Tests of the lab vCenter itself (test/lab): start/stop, inventory and disk files,
// disk images readable by sleuthkit, the /lab control API, and (through the Go smoke
// client test/lab/vcsim/smoke) the SOAP behaviour the lab adds to vcsim.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { imageManifest, startLab, type Lab } from '../lab/lab.ts';

const labDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lab');
const sbin = `${process.env.PATH}:/usr/sbin:/sbin`;


function sleuth(tool: string, args: string[]): Buffer {
  return execFileSync(tool, args, { env: { ...process.env, PATH: sbin }, maxBuffer: 64 << 20 });
}

/** path → inode of every allocated regular file, from `fls -r -p`. */
function listFiles(image: string, offsetSectors: number): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of sleuth('fls', ['-r', '-p', '-F', '-o', String(offsetSectors), image]).toString('utf8').split('\n')) {
    const m = /^r\/r ([\d-]+):\t(.*)$/.exec(line);
    if (m) out.set('/' + m[2], m[1]);
  }
  return out;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** HTTPS request to the lab, trusting only its certificate. */
function request(lab: Lab, method: string, p: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request(new URL(p, lab.url), { method, ca: lab.certPem, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('lab vCenter (standard inventory)', () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test('announces an HTTPS endpoint with a pinned certificate', async () => {
    assert.match(lab.sdkUrl, /^https:\/\/127\.0\.0\.1:\d+\/sdk$/);
    assert.equal(lab.url, `https://127.0.0.1:${lab.port}`);
    assert.equal(new X509Certificate(lab.certPem).fingerprint256, lab.thumbprint);
    assert.ok(existsSync(lab.dataDir));
    const r = await request(lab, 'GET', '/sdk/vimServiceVersions.xml');
    assert.equal(r.status, 200);
    assert.match(r.body, /urn:vim25/);
  });

  test('/lab/vms lists the inventory with its disk files in vSphere layout', async () => {
    const vms = await lab.control.vms();
    assert.deepEqual(Object.keys(vms).sort(), ['app-notools01', 'linux-db01', 'web-off01', 'win-app01']);
    assert.equal(vms['win-app01'].powerState, 'poweredOn');
    assert.equal(vms['win-app01'].toolsRunning, true);
    assert.equal(vms['web-off01'].powerState, 'poweredOff');
    assert.equal(vms['app-notools01'].toolsRunning, false);
    for (const [name, vm] of Object.entries(vms)) {
      assert.match(vm.moref, /^vm-\d+$/);
      assert.equal(vm.disks.length, 1);
      const d = vm.disks[0];
      assert.equal(d.key, 2000);
      assert.equal(d.fileName, `[${vm.datastore}] ${name}/${name}.vmdk`);
      assert.equal(statSync(d.flatPath).size, d.capacityBytes);
      assert.equal(d.flatPath, path.join(vm.datastoreDir, `${name}-flat.vmdk`));
      const desc = readFileSync(d.descriptorPath, 'utf8');
      assert.match(desc, /^# Disk DescriptorFile/);
      assert.ok(desc.includes(`RW ${d.capacityBytes / 512} VMFS "${name}-flat.vmdk"`));
      assert.ok(desc.includes('createType="vmfs"'));
    }
    assert.equal(vms['win-app01'].disks[0].capacityBytes, 64 << 20);
  });

  for (const name of ['win-app01', 'linux-db01']) {
    test(`${name}: partitions and files are readable by sleuthkit and match the manifest`, async () => {
      assert.ok(lab.imagesDir);
      const manifest = imageManifest(lab.imagesDir, name);
      const flat = (await lab.control.vms())[name].disks[0].flatPath;
      const mmls = sleuth('mmls', [flat]).toString('utf8');
      assert.match(mmls, manifest.table === 'gpt' ? /GUID Partition Table/ : /DOS Partition Table/);
      assert.equal(manifest.partitions.length, 2);
      for (const p of manifest.partitions) {
        assert.match(mmls, new RegExp(`${String(p.startSector).padStart(10, '0')}\\s+\\d+\\s+${String(p.sectorCount).padStart(10, '0')}`));
        const files = listFiles(flat, p.startSector);
        assert.ok(p.files.length >= 3, `${p.fs} has test files`);
        assert.ok(p.files.some((f) => f.size > 1 << 20), `${p.fs} has a file > 1 MiB`);
        assert.ok(p.files.some((f) => f.path.split('/').length > 3), `${p.fs} has nested folders`);
        for (const f of p.files) {
          const inode = files.get(f.path);
          assert.ok(inode, `${name} p${p.index} (${p.fs}): ${f.path} not found by fls`);
          const data = sleuth('icat', ['-o', String(p.startSector), flat, inode]);
          assert.equal(data.length, f.size, f.path);
          assert.equal(sha256(data), f.sha256, f.path);
        }
      }
      assert.deepEqual(manifest.partitions.map((p) => p.fs), name === 'win-app01' ? ['ntfs', 'ext4'] : ['fat32', 'ext4']);
    });
  }

  test('control: writeDisk writes into the flat file like a guest', async () => {
    const disk = (await lab.control.vms())['web-off01'].disks[0];
    const bytes = Buffer.from('written by the guest');
    await lab.control.writeDisk('web-off01', 0, 4096, bytes);
    const f = await open(disk.flatPath, 'r');
    const back = Buffer.alloc(bytes.length);
    await f.read(back, 0, bytes.length, 4096);
    await f.close();
    assert.deepEqual(back, bytes);
    await assert.rejects(lab.control.writeDisk('web-off01', 0, disk.capacityBytes - 2, bytes), /HTTP 400/);
  });

  test('control: faults, guest rules, sessions, UI session token', async () => {
    const f = await lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'ApplicationQuiesceFault', vm: 'win-app01', count: 2 });
    assert.equal(f.count, 2);
    assert.deepEqual((await lab.control.faults()).map((x) => x.id), [f.id]);
    await lab.control.clearFaults();
    assert.deepEqual(await lab.control.faults(), []);
    await lab.control.setGuestExitCode({ vm: 'linux-db01', match: 'freeze', exitCode: 1 });
    assert.deepEqual(await lab.control.guestCalls(), []);
    await lab.control.resetGuest();
    assert.equal(typeof (await lab.control.expireSessions()), 'number');
    const token = await lab.control.uiSessionToken();
    assert.match(token, /^[0-9a-f]{40}$/);
    await assert.rejects(lab.control.uiSessionToken(lab.username, 'wrong'), /HTTP 401/);
    const ticket = await request(lab, 'POST', '/api/ui/vcenter/session/clone-ticket',
      { 'vmware-api-session-id': token, 'content-type': 'application/json' }, JSON.stringify({ vc_guid: lab.vcGuid }));
    assert.equal(ticket.status, 200);
    assert.ok((JSON.parse(ticket.body) as { session_clone_ticket: string }).session_clone_ticket);
    const bad = await request(lab, 'POST', '/api/ui/vcenter/session/clone-ticket', { 'vmware-api-session-id': 'nope' }, '{}');
    assert.equal(bad.status, 401);
    const noToken = await request(lab, 'GET', '/lab/vms');
    assert.equal(noToken.status, 403);
  });
});

test('SOAP behaviour (Go smoke client: CBT, snapshots, quiescing, guest ops, tasks, extensions, events, faults, sessions)', async () => {
  const env = { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: process.env.GOCACHE ?? path.join(labDir, 'bin', '.gocache') };
  const smoke = path.join(labDir, 'bin', 'lab-smoke');
  const build = spawnSync('go', ['build', '-o', smoke, './smoke'], { cwd: path.join(labDir, 'vcsim'), env, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const lab = await startLab();
  try {
    const ready = JSON.stringify(lab.readyLine);
    const out = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const p = spawn(smoke, [], { stdio: ['pipe', 'pipe', 'pipe'] });
      let text = '';
      p.stdout.on('data', (d) => (text += d));
      p.stderr.on('data', (d) => (text += d));
      p.on('exit', (code) => resolve({ code, text }));
      p.stdin.end(ready + '\n');
    });
    assert.equal(out.code, 0, out.text);
    assert.match(out.text, /all checks passed/);
  } finally {
    await lab.stop();
  }
});

test('large inventory: many VMs spread over hosts, no images', async () => {
  const lab = await startLab({ inventory: 'large', vms: 120 });
  try {
    const vms = await lab.control.vms();
    assert.equal(Object.keys(vms).length, 120);
    assert.ok(vms['vm-0001'] && vms['vm-0120']);
  } finally {
    await lab.stop();
  }
  assert.ok(!existsSync(lab.dataDir), 'stop() removes the data directory');
});
