// Starts and drives the lab vCenter (test/lab/vcsim → test/lab/bin/vcsim-lab).
// All vSphere behaviour lives in the Go program; this helper only builds what is
// missing, spawns it, reads its JSON ready line and wraps its /lab control API.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const labDir = path.dirname(fileURLToPath(import.meta.url));

/** What the image builder (images/build.sh) writes beside each VM's disk image: its partitions and every file. */
export interface LabImageManifest {
  image: string;
  sizeBytes: number;
  table: 'gpt' | 'mbr';
  partitions: { index: number; fs: string; label: string; startSector: number; sectorCount: number; files: { path: string; size: number; sha256: string }[] }[];
}

/** The manifest of a lab VM's disk image (`<imagesDir>/<vm>.manifest.json`). */
export function imageManifest(imagesDir: string, vm: string): LabImageManifest {
  return JSON.parse(readFileSync(path.join(imagesDir, `${vm}.manifest.json`), 'utf8')) as LabImageManifest;
}
const binary = path.join(labDir, 'bin', 'vcsim-lab');

export interface StartLabOptions {
  /** 'standard' (default): Lab-DC with Production/DR sites and 4 VMs; 'large': `vms` VMs, no disk images. */
  inventory?: 'standard' | 'large';
  /** Number of VMs for the large inventory (default 2000). */
  vms?: number;
  /** Size of the disks of win-app01 and linux-db01 in MiB (default 64). */
  diskMiB?: number;
  /** Use the partitioned images from test/lab/images/build.sh (default true for 'standard'); false = blank disks. */
  images?: boolean;
  /** Write SOAP traffic to the lab's stderr (default false). */
  trace?: boolean;
  /** Standard inventory: NICs on the VMs and the DR helper VM dr-transporter01 (test/lab/vcsim/hotadd.go). */
  replication?: boolean;
  /** Standard inventory: extra Windows VMs by name → raw disk image (vcsim/appvms.go; "mail…" get the Exchange writer, "dc…" NTDS). */
  appVms?: Record<string, string>;
}

/** The JSON line vcsim-lab prints when it is ready. */
export interface LabReadyLine {
  url: string; // https://127.0.0.1:PORT/sdk
  thumbprint: string; // SHA-256 of the certificate, "AA:BB:…"
  certPem: string;
  username: string;
  password: string;
  dataDir: string;
  controlToken: string;
  guestUsername: string;
  guestPassword: string;
  vcGuid: string;
  /** A second user with a role on restrictedVms only (test/lab/vcsim/permissions.go). */
  restrictedUsername: string;
  restrictedPassword: string;
  restrictedVms: string[]; // VM names the restricted user can see
}

export interface LabDiskFile {
  fileName: string; // "[prod-ds1] win-app01/win-app01-000001.vmdk"
  descriptorPath: string;
  dataPath: string; // -flat.vmdk, or a delta's -delta.vmdk (raw 64 KiB blocks at their offsets, lab format)
  delta: boolean;
  blocks?: number; // delta: 64 KiB blocks it holds
}

export interface LabDisk {
  key: number; // device key (e.g. 2000)
  fileName: string; // base disk: "[prod-ds1] win-app01/win-app01.vmdk"
  descriptorPath: string; // local path of the base descriptor
  flatPath: string; // local path of the base -flat.vmdk (frozen while snapshots exist)
  capacityBytes: number;
  changeId?: string; // latest CBT changeId, when tracking
  currentFileName: string; // what the VM's backing names now (a delta while snapshots exist)
  chain: LabDiskFile[]; // current file first, the flat file last
  /** A disk of another VM hot-added to this one: flatPath is then that disk's current top data file. */
  attachedFrom?: { vm: string; diskKey: number; fileName: string };
}

export interface LabVm {
  moref: string; // "vm-42"
  datastore: string; // "prod-ds1"
  dir: string; // folder inside the datastore ("win-app01")
  datastoreDir: string; // local directory of that folder
  vmxPath: string; // "[prod-ds1] win-app01/win-app01.vmx"
  powerState: string;
  toolsRunning: boolean;
  guestId: string;
  disks: LabDisk[];
}

/** A fault to inject (POST /lab/faults); see test/lab/vcsim/faults.go. */
export interface LabFaultInput {
  /**
   * SOAP method ("CreateSnapshot_Task", "StartProgramInGuest", …), "DatastoreGet" (datastore HTTP
   * GET/HEAD) or "DatastorePut" (datastore HTTP PUT/POST uploads).
   */
  method: string;
  /**
   * vim25 fault type ("ApplicationQuiesceFault", "FileFault", "TaskInProgress", "NotAuthenticated", …),
   * or a lab behaviour: "LeaveConsolidationNeeded" (RemoveSnapshot_Task), "NoWriterManifests"
   * (CreateSnapshot_Task / CreateSnapshotEx_Task), "ReadFault" (DatastoreGet: the download is cut
   * after afterBytes bytes), "WriteFault" (DatastorePut: the connection is dropped, unanswered, once
   * afterBytes bytes of the upload arrived; those bytes stay in the file), or "" to only delay the call.
   * Other faults on datastore HTTP answer a status: DatastoreGet "FileNotFound"/"NotFound" → 404, else
   * 500; DatastorePut (after reading the whole upload, storing nothing) "NoDiskSpace" → 507,
   * "FileNotFound"/"NotFound" → 404, else (e.g. "FileFault") 500.
   */
  fault: string;
  vm?: string; // VM name; default any
  count?: number; // matching calls to fault (default 1; negative = every call)
  delayMs?: number;
  message?: string;
  as?: 'task' | 'soap'; // default: *_Task methods fail their task (request-level faults are SOAP faults)
  path?: string; // DatastoreGet/DatastorePut: substring of the datastore path ("web-off01/web-off01.vmx")
  afterBytes?: number; // ReadFault: bytes sent, WriteFault: bytes received, before the connection is cut
}

export interface LabFault extends Required<Pick<LabFaultInput, 'method' | 'fault'>> {
  id: number;
  vm?: string;
  count: number;
  hits: number;
  delayMs?: number;
  message?: string;
  as?: string;
  path?: string;
  afterBytes?: number;
}

export interface LabGuestCall {
  kind: 'program' | 'upload' | 'download';
  vm: string;
  vmRef: string;
  user: string;
  time: string;
  programPath?: string;
  arguments?: string;
  workingDirectory?: string;
  envVariables?: string[];
  pid?: number;
  exitCode?: number;
  delayMs?: number;
  guestFilePath?: string;
  size?: number;
  sha256?: string;
  content?: string; // uploads of UTF-8 text up to 64 KiB
}

export interface LabGuestProgramRule {
  vm?: string; // VM name; default any
  match?: string; // substring of "programPath arguments"; default any
  exitCode: number;
  delayMs?: number; // the process runs this long
}

export interface LabControl {
  /** Inject a fault; the next matching calls fail as vCenter would. */
  injectFault(rule: LabFaultInput): Promise<LabFault>;
  faults(): Promise<LabFault[]>;
  clearFaults(): Promise<void>;
  /** Every guest operation so far (programs started, files uploaded/downloaded). */
  guestCalls(): Promise<LabGuestCall[]>;
  /** Matching StartProgramInGuest calls end with this exit code after delayMs (newest rule wins). */
  setGuestExitCode(rule: LabGuestProgramRule): Promise<void>;
  /** Forget guest rules and recorded calls. */
  resetGuest(): Promise<void>;
  /** Terminate every SOAP session: the next call with any of them gets NotAuthenticated. Returns how many. */
  expireSessions(): Promise<number>;
  /** VM name → moref, datastore folder and local disk files. */
  vms(): Promise<Record<string, LabVm>>;
  /** Write bytes into a VM disk at offset as the guest would: into the flat file, or into the top delta while snapshots exist. */
  writeDisk(vm: string, diskIndex: number, offset: number, bytes: Uint8Array): Promise<void>;
  /**
   * What the vSphere Client gives a plugin iframe (getSessionInfo().sessionToken); defaults to the lab's
   * administrator. With the restricted user's credentials, sessions cloned from the token are restricted too.
   */
  uiSessionToken(username?: string, password?: string): Promise<string>;
  /** Raw access to /lab endpoints. */
  request(method: string, pathAndQuery: string, body?: unknown): Promise<unknown>;
}

export interface Lab {
  url: string; // https://127.0.0.1:PORT (origin)
  sdkUrl: string; // https://127.0.0.1:PORT/sdk
  host: string; // 127.0.0.1
  port: number;
  thumbprint: string;
  certPem: string;
  username: string;
  password: string;
  dataDir: string;
  vcGuid: string; // ServiceContent.about.instanceUuid
  guestUsername: string; // credentials guest operations accept
  guestPassword: string;
  /**
   * A second vCenter user (operator@vsphere.local / Operator-Pass-1!) holding a role on `restrictedVms`
   * only (win-app01 and linux-db01 in the standard inventory). vCenter's rules apply to its sessions,
   * including sessions cloned from them: other VMs and their snapshots are left out of property
   * retrievals and views, and calls naming them fail with NoPermission (test/lab/vcsim/permissions.go).
   */
  restrictedUsername: string;
  restrictedPassword: string;
  restrictedVms: string[];
  /** Token for the /lab control endpoints (header x-lab-token); `control` sends it for you. */
  controlToken: string;
  /** The JSON line vcsim-lab printed, e.g. to hand to other tools. */
  readyLine: LabReadyLine;
  /** Directory with the source images and their manifests (<name>.img, <name>.manifest.json), if used. */
  imagesDir?: string;
  control: LabControl;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Rebuild the Go binary when a source is newer (what test/lab/setup.sh does). */
function ensureBinary(): void {
  const src = path.join(labDir, 'vcsim');
  const sources = readdirSync(src).filter((f) => f.endsWith('.go'));
  const built = existsSync(binary) ? statSync(binary).mtimeMs : 0;
  if (built && sources.every((f) => statSync(path.join(src, f)).mtimeMs <= built)) return;
  const r = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: src,
    encoding: 'utf8',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: '/usr/share/gocode',
      GOCACHE: process.env.GOCACHE ?? path.join(labDir, 'bin', '.gocache'),
    },
  });
  if (r.status !== 0) throw new Error(`building the lab vCenter failed (run test/lab/setup.sh): ${r.stderr || r.error}`);
}

/** Build (or reuse) the partitioned disk images; returns their directory. */
function ensureImages(diskMiB: number): string {
  const script = path.join(labDir, 'images', 'build.sh');
  const r = spawnSync('bash', [script, String(diskMiB)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`test/lab/images/build.sh ${diskMiB} failed:\n${r.stderr}`);
  const dir = r.stdout.trim().split('\n').pop() ?? '';
  if (!dir || !existsSync(dir)) throw new Error(`test/lab/images/build.sh printed no image directory: ${r.stdout}`);
  return dir;
}

export async function startLab(opts: StartLabOptions = {}): Promise<Lab> {
  const inventory = opts.inventory ?? 'standard';
  const diskMiB = opts.diskMiB ?? 64;
  ensureBinary();
  const args = ['-listen', '127.0.0.1:0', '-exit-on-stdin-eof', '-inventory', inventory, '-disk-mib', String(diskMiB)];
  if (inventory === 'large') args.push('-vms', String(opts.vms ?? 2000));
  const imagesDir = inventory === 'standard' && opts.images !== false ? ensureImages(diskMiB) : undefined;
  if (imagesDir) args.push('-images', imagesDir);
  if (opts.trace) args.push('-trace');
  if (opts.replication) args.push('-replication');
  for (const [name, image] of Object.entries(opts.appVms ?? {})) args.push('-app-vm', `${name}=${image}`);

  // stdin stays open: the lab exits by itself when this process dies and the pipe closes.
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-20000);
    if (process.env.STILLPOINT_LAB_LOG) process.stderr.write(d);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', () => running.delete(child));

  const ready = await new Promise<LabReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('lab vCenter did not start within 180 s')), 180_000);
    const lines = createInterface({ input: child.stdout! });
    function fail(err: Error) {
      clearTimeout(timer);
      lines.close();
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n${stderr}`));
    }
    const onExit = (code: number | null, signal: string | null) =>
      fail(new Error(`vcsim-lab exited (${code ?? signal}) before it was ready`));
    const onError = (err: Error) => fail(err);
    lines.once('line', (line) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      try {
        resolve(JSON.parse(line) as LabReadyLine);
      } catch {
        fail(new Error(`unexpected output from vcsim-lab: ${line}`));
      }
    });
    child.once('exit', onExit);
    child.once('error', onError);
  });

  const sdk = new URL(ready.url);
  const control = makeControl(sdk.origin, ready);
  let stopped: Promise<void> | undefined;
  return {
    url: sdk.origin,
    sdkUrl: ready.url,
    host: sdk.hostname,
    port: Number(sdk.port),
    thumbprint: ready.thumbprint,
    certPem: ready.certPem,
    username: ready.username,
    password: ready.password,
    dataDir: ready.dataDir,
    vcGuid: ready.vcGuid,
    guestUsername: ready.guestUsername,
    guestPassword: ready.guestPassword,
    restrictedUsername: ready.restrictedUsername,
    restrictedPassword: ready.restrictedPassword,
    restrictedVms: ready.restrictedVms ?? [],
    controlToken: ready.controlToken,
    readyLine: ready,
    imagesDir,
    control,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        rmSync(ready.dataDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

function makeControl(origin: string, ready: LabReadyLine): LabControl {
  const agent = new https.Agent({ ca: ready.certPem, keepAlive: false });

  function call(method: string, pathAndQuery: string, body?: unknown, raw?: Uint8Array): Promise<unknown> {
    const payload = raw ?? (body === undefined ? undefined : Buffer.from(JSON.stringify(body)));
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(pathAndQuery, origin),
        {
          method,
          agent,
          headers: {
            'x-lab-token': ready.controlToken,
            'content-type': raw ? 'application/octet-stream' : 'application/json',
            ...(payload ? { 'content-length': String(payload.byteLength) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              json = text;
            }
            if ((res.statusCode ?? 500) >= 400) {
              reject(new Error(`lab ${method} ${pathAndQuery}: HTTP ${res.statusCode}: ${text}`));
            } else {
              resolve(json);
            }
          });
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  return {
    injectFault: async (rule) => (await call('POST', '/lab/faults', rule)) as LabFault,
    faults: async () => (await call('GET', '/lab/faults')) as LabFault[],
    clearFaults: async () => {
      await call('DELETE', '/lab/faults');
    },
    guestCalls: async () => (await call('GET', '/lab/guest/calls')) as LabGuestCall[],
    setGuestExitCode: async (rule) => {
      await call('POST', '/lab/guest/program', rule);
    },
    resetGuest: async () => {
      await call('DELETE', '/lab/guest');
    },
    expireSessions: async () => ((await call('POST', '/lab/sessions/expire')) as { expired: number }).expired,
    vms: async () => (await call('GET', '/lab/vms')) as Record<string, LabVm>,
    writeDisk: async (vm, diskIndex, offset, bytes) => {
      const q = new URLSearchParams({ vm, disk: String(diskIndex), offset: String(offset) });
      await call('POST', `/lab/disk?${q}`, undefined, bytes);
    },
    uiSessionToken: async (username = ready.username, password = ready.password) =>
      ((await call('POST', '/lab/ui-session', { username, password })) as { sessionToken: string }).sessionToken,
    request: (method, pathAndQuery, body) => call(method, pathAndQuery, body),
  };
}
