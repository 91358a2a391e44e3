// Inventory benchmark: the full VM inventory of a large lab vCenter (2000 VMs by default), retrieved with
// Stillpoint's vSphere layer and with govmomi (bench/inventory/govmomi/main.go), same property set, several
// rounds each, printed side by side.
//
// Usage: node bench/inventory/run.ts [--vms 2000] [--rounds 5]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VM_PROPERTIES, VSphere, ContainerView } from '../../backend/vsphere/index.ts';
import { startLab } from '../../test/lab/lab.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { vms: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '5' } } });
const vmCount = Number(values.vms);
const rounds = Number(values.rounds);

function buildGovmomi(): string {
  const out = join(tmpdir(), 'stillpoint-bench', 'govmomi-inventory');
  mkdirSync(dirname(out), { recursive: true });
  const r = spawnSync('go', ['build', '-o', out, '.'], {
    cwd: join(here, 'govmomi'), encoding: 'utf8',
    env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', GOCACHE: process.env.GOCACHE ?? join(tmpdir(), 'stillpoint-bench', 'gocache') },
  });
  if (r.status !== 0) throw new Error(`go build failed: ${r.stderr}`);
  return out;
}

type Stats = { rounds: number[]; vms: number; disks: number };

function summary(name: string, s: Stats): { name: string; best: number; median: number; vmsPerS: number } {
  const sorted = [...s.rounds].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return { name, best: sorted[0]!, median, vmsPerS: s.vms / (median / 1000) };
}

const gobin = buildGovmomi();
console.log(`starting the lab vCenter with ${vmCount} VMs…`);
const t0 = performance.now();
const lab = await startLab({ inventory: 'large', vms: vmCount });
console.log(`lab ready in ${Math.round(performance.now() - t0)} ms: ${lab.sdkUrl}`);
try {
  const vs = await VSphere.connect({ url: lab.url, thumbprint: lab.thumbprint, username: lab.username, password: lab.password });

  // 1. Stillpoint: inventory.vms() — view + RetrievePropertiesEx (paged) + typed VmInfo mapping.
  const ours: Stats = { rounds: [], vms: 0, disks: 0 };
  await vs.inventory.vms(); // warm-up (JIT, WSDL descriptions)
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    const vms = await vs.inventory.vms();
    ours.rounds.push(performance.now() - t);
    ours.vms = vms.length;
    ours.disks = vms.reduce((n, v) => n + v.disks.length, 0);
  }

  // 2. Stillpoint, raw ObjectContent (no VmInfo mapping): the SOAP + parse cost alone.
  const raw: Stats = { rounds: [], vms: 0, disks: 0 };
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    const view = await ContainerView.create(vs.client, ['VirtualMachine']);
    const objs = await vs.pc.retrieveRaw([view.filterSpec('VirtualMachine', VM_PROPERTIES)]);
    await view.destroy();
    raw.rounds.push(performance.now() - t);
    raw.vms = objs.length;
  }
  await vs.close();

  // 3. govmomi.
  const caFile = join(tmpdir(), 'stillpoint-bench', 'lab-ca.pem');
  writeFileSync(caFile, lab.certPem);
  const g = spawnSync(gobin, ['-url', lab.sdkUrl, '-user', lab.username, '-password', lab.password, '-ca', caFile,
    '-rounds', String(rounds + 1), '-props', VM_PROPERTIES.join(',')], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (g.status !== 0) throw new Error(`govmomi run failed: ${g.stderr}`);
  const gr = JSON.parse(g.stdout) as { roundsMs: number[]; vms: number; disks: number };
  const gov: Stats = { rounds: gr.roundsMs.slice(1), vms: gr.vms, disks: gr.disks }; // first round = warm-up

  const rows = [summary('govmomi (Go, mo.VirtualMachine)', gov), summary('stillpoint inventory.vms()', ours), summary('stillpoint raw retrieve', raw)];
  const base = rows[0]!.median;
  console.log(`\n${vmCount} VMs, ${VM_PROPERTIES.length} properties each (incl. config.hardware.device and snapshot), ${rounds} rounds, after one warm-up round`);
  console.log(`VMs returned: govmomi ${gov.vms} (${gov.disks} disks), stillpoint ${ours.vms} (${ours.disks} disks), raw ${raw.vms}`);
  console.log('| client | best ms | median ms | VMs/s (median) | ratio vs govmomi |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.best.toFixed(0)} | ${r.median.toFixed(0)} | ${r.vmsPerS.toFixed(0)} | ${(r.median / base).toFixed(2)}× |`);
  }
  if (gov.vms !== ours.vms) {
    console.error(`MISMATCH: govmomi saw ${gov.vms} VMs, stillpoint ${ours.vms}`);
    process.exitCode = 1;
  }
} finally {
  await lab.stop();
}
