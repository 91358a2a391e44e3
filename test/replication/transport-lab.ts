// For the hot-add tests: the transporter as a real child process (`stillpoint transporter run` with
// the lab's device paths), and the whole disk of a replica as its current chain shows it, read the way
// a helper VM sees it (attached to the DR helper VM, its device read, detached).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Lab, LabDisk } from '../lab/lab.ts';
import type { TestService } from '../helpers/service.ts';
import type { MoRef, VSphere } from '../../backend/vsphere/index.ts';
import { attachDisks, detachDisks } from '../../backend/replication/transport/helper-disks.ts';

export const HELPER = 'dr-transporter01';

export interface TransporterProc {
  proc: ChildProcess;
  ready: { url: string; id: string; name: string; helperVm: string; cleaned: string[] };
  stderr(): string;
  /** SIGTERM and wait: returns the bytes the transporter says it wrote. */
  stop(): Promise<number>;
  kill9(): Promise<void>;
}

/** `dataDir`: the transporter's data folder, kept across starts (its certificate, its journal of attached disks); default a fresh one removed at exit. */
export async function startTransporter(o: { lab: Lab; serviceUrl: string; serviceCert: string; token: string; leaseSeconds?: number; renewSeconds?: number; dataDir?: string }): Promise<TransporterProc> {
  const dir = mkdtempSync(join(tmpdir(), 'stillpoint-transporter-'));
  writeFileSync(join(dir, 'service.crt'), o.serviceCert);
  writeFileSync(join(dir, 'lab.crt'), o.lab.certPem);
  const proc = spawn(process.execPath, ['bin/stillpoint.mjs', 'transporter', 'run', '--listen', '127.0.0.1:0', '--data-dir', o.dataDir ?? join(dir, 'data'),
    '--devices', 'lab', '--lab-url', o.lab.url, '--lab-token', o.lab.controlToken, '--lab-ca', join(dir, 'lab.crt'),
    '--lease-seconds', String(o.leaseSeconds ?? 120), '--renew-seconds', String(o.renewSeconds ?? 20)], {
    env: { ...process.env, STILLPOINT_URL: o.serviceUrl, STILLPOINT_CA: join(dir, 'service.crt'), STILLPOINT_TRANSPORTER_TOKEN: o.token, STILLPOINT_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
  // 'close': the process ended and its stdio is read to the end (its last words on stderr included).
  const exited = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  void exited.then(() => rmSync(dir, { recursive: true, force: true }));
  const ready = await new Promise<TransporterProc['ready']>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) resolve(JSON.parse(line) as TransporterProc['ready']);
    });
    proc.once('exit', (code) => reject(new Error(`transporter exited with ${code}: ${err}${out}`)));
  });
  return {
    proc, ready, stderr: () => err,
    async stop() {
      proc.kill('SIGTERM');
      await exited;
      const m = /stopped after writing (\d+) bytes/.exec(err);
      if (!m) throw new Error(`the transporter did not say what it wrote: ${err}`);
      return Number(m[1]);
    },
    async kill9() { proc.kill('SIGKILL'); await exited; },
  };
}

/** Disks attached to the helper VM now (the lab's view: entries with attachedFrom). */
export async function helperAttached(lab: Lab): Promise<LabDisk[]> {
  return ((await lab.control.vms())[HELPER]?.disks ?? []).filter((d) => d.attachedFrom);
}

/** SHA-256 of a powered-off VM's whole disk as its current chain shows it (through the helper VM). */
export async function diskShaViaHelper(vs: VSphere, lab: Lab, vmName: string, disk = 0): Promise<string> {
  const vms = await lab.control.vms();
  const owner = vms[vmName]!;
  const helper: MoRef = { type: 'VirtualMachine', value: vms[HELPER]!.moref };
  const d = owner.disks[disk]!;
  const [a] = await attachDisks(vs, helper, [{ fileName: d.currentFileName, capacity: d.capacityBytes }]);
  try {
    const dev = (await helperAttached(lab)).find((x) => x.key === a!.key)!;
    return shaOfFile(dev.flatPath, d.capacityBytes);
  } finally {
    await detachDisks(vs, helper, [a!.key]);
  }
}

/** SHA-256 of a file's first `size` bytes, zeros past its end (a sparse device file). */
export function shaOfFile(path: string, size: number): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4 * 1024 * 1024);
    for (let off = 0; off < size;) {
      const len = Math.min(buf.length, size - off);
      const n = readSync(fd, buf, 0, len, off);
      buf.fill(0, n, len);
      h.update(buf.subarray(0, len));
      off += len;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** Bytes of the 4 KiB pieces covering these byte ranges (what hot-add writes when all of them changed). */
export function pieceCover(ranges: { start: number; length: number }[], piece = 4096): number {
  const pieces = new Set<number>();
  for (const r of ranges) for (let p = Math.floor(r.start / piece); p * piece < r.start + r.length; p++) pieces.add(p);
  return pieces.size * piece;
}

/** `stillpoint ARGS` against the test service, signed in as the lab's administrator. */
export function serviceCli(t: TestService, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', ...args], {
      env: { ...process.env, STILLPOINT_URL: t.service.url, STILLPOINT_DATA_DIR: t.dataDir, STILLPOINT_USER: t.lab.username, STILLPOINT_PASSWORD: t.lab.password },
      timeout: 120_000,
    }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** The DR helper VM paired through the CLI, and its transporter started with the pairing token. */
export async function pairAndStartTransporter(t: TestService): Promise<TransporterProc> {
  const paired = await serviceCli(t, ['transporter', 'pair', HELPER, '--json']);
  if (paired.code !== 0) throw new Error(`stillpoint transporter pair failed: ${paired.stderr}`);
  const { token } = JSON.parse(paired.stdout) as { token: string };
  return startTransporter({ lab: t.lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token });
}

/** The DR helper VM paired through the API, its transporter started: a failback reads the replica through it. */
export async function startDrTransporter(t: TestService, token: string): Promise<{ transporter: TransporterProc; pairing: string }> {
  const vm = (await t.lab.control.vms())[HELPER]!.moref;
  const paired = await t.call<{ token: string }>('POST', '/api/transporters/pair', { token, body: { vm } });
  if (paired.status !== 200) throw new Error(`pairing ${HELPER} failed: ${paired.status} ${JSON.stringify(paired.body)}`);
  const pairing = paired.body.token;
  return { transporter: await startTransporter({ lab: t.lab, serviceUrl: t.service.url, serviceCert: t.service.cert, token: pairing }), pairing };
}

/** Counts the lab's calls of `method` (on a VM, or datastore HTTP under a path) from now on: a delay-only lab fault counts its hits. */
export async function watchCalls(lab: Lab, rule: { method: string; vm?: string; path?: string }): Promise<() => Promise<number>> {
  const w = await lab.control.injectFault({ ...rule, fault: '', delayMs: 1, count: -1 });
  return async () => (await lab.control.faults()).find((f) => f.id === w.id)?.hits ?? 0;
}
