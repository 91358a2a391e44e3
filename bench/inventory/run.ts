// Inventory benchmark: the full VM inventory of a large lab vCenter (2000 VMs by default), retrieved with
// Stillpoint's vSphere layer and with govmomi (bench/inventory/govmomi/main.go), same property set, several
// rounds each. The clients take turns round by round (govmomi runs as a long-lived process driven over
// stdin), so they see the same machine load; one warm-up round each is not counted.
//
// Usage: node bench/inventory/run.ts [--vms 2000] [--rounds 7]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ContainerView, VM_PROPERTIES, VSphere } from '../../backend/vsphere/index.ts';
import { startLab } from '../../test/lab/lab.ts';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { vms: { type: 'string', default: '2000' }, rounds: { type: 'string', default: '7' } } });
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

type Client = { name: string; round: () => Promise<{ vms: number; disks?: number }>; ms: number[]; vms: number; disks?: number };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

const gobin = buildGovmomi();
console.log(`starting the lab vCenter with ${vmCount} VMs…`);
const t0 = performance.now();
const lab = await startLab({ inventory: 'large', vms: vmCount });
console.log(`lab ready in ${Math.round(performance.now() - t0)} ms: ${lab.sdkUrl}`);
const caFile = join(tmpdir(), 'stillpoint-bench', 'lab-ca.pem');
writeFileSync(caFile, lab.certPem);
const gov = spawn(gobin, ['-url', lab.sdkUrl, '-user', lab.username, '-password', lab.password, '-ca', caFile,
  '-rounds', '0', '-props', VM_PROPERTIES.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
const govLines = createInterface({ input: gov.stdout })[Symbol.asyncIterator]();
try {
  const vs = await VSphere.connect({ url: lab.url, thumbprint: lab.thumbprint, username: lab.username, password: lab.password });
  const clients: Client[] = [
    {
      name: 'govmomi 0.24 (Go): ContainerView + Retrieve into mo.VirtualMachine', ms: [], vms: 0,
      round: async () => {
        gov.stdin.write('round\n');
        const { value, done } = await govLines.next();
        if (done) throw new Error('govmomi process ended');
        const r = JSON.parse(value as string) as { ms: number; vms: number; disks: number };
        return { vms: r.vms, disks: r.disks, goMs: r.ms };
      },
    },
    {
      name: 'Stillpoint inventory.vms() → VmInfo[]', ms: [], vms: 0,
      round: async () => {
        const vms = await vs.inventory.vms();
        return { vms: vms.length, disks: vms.reduce((n, v) => n + v.disks.length, 0) };
      },
    },
    {
      name: 'Stillpoint raw RetrievePropertiesEx (ObjectContent[])', ms: [], vms: 0,
      round: async () => {
        const view = await ContainerView.create(vs.client, ['VirtualMachine']);
        const objs = await vs.pc.retrieveRaw([view.filterSpec('VirtualMachine', VM_PROPERTIES)]);
        await view.destroy();
        return { vms: objs.length };
      },
    },
    {
      name: 'Stillpoint inventory.vms(), node-soap parser only', ms: [], vms: 0,
      round: async () => {
        vs.client.fastParse = false;
        try {
          return { vms: (await vs.inventory.vms()).length };
        } finally {
          vs.client.fastParse = true;
        }
      },
    },
  ];
  for (let i = 0; i <= rounds; i++) {
    for (const c of clients) {
      const t = performance.now();
      const r = await c.round() as { vms: number; disks?: number; goMs?: number };
      const ms = r.goMs ?? performance.now() - t; // govmomi: its own in-process time (no pipe overhead)
      if (i > 0) c.ms.push(ms);
      c.vms = r.vms;
      if (r.disks !== undefined) c.disks = r.disks;
    }
  }
  await vs.close();

  const base = median(clients[0]!.ms);
  console.log(`\n${vmCount} VMs × ${VM_PROPERTIES.length} properties (incl. config.hardware.device and snapshot), ${rounds} interleaved rounds after one warm-up`);
  console.log('| client | VMs | best ms | median ms | VMs/s (median) | time vs govmomi |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const c of clients) {
    const m = median(c.ms);
    console.log(`| ${c.name} | ${c.vms} | ${Math.min(...c.ms).toFixed(0)} | ${m.toFixed(0)} | ${(c.vms / (m / 1000)).toFixed(0)} | ${(m / base).toFixed(2)}× |`);
  }
  const counts = new Set(clients.map((c) => c.vms));
  if (counts.size !== 1 || clients[0]!.disks !== clients[1]!.disks) {
    console.error(`MISMATCH: ${clients.map((c) => `${c.name}: ${c.vms} VMs, ${c.disks ?? '?'} disks`).join('; ')}`);
    process.exitCode = 1;
  }
} finally {
  gov.stdin.end();
  gov.kill();
  await lab.stop();
}
