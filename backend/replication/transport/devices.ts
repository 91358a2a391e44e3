// Where the transporter finds an attached disk as a block device it can open: in a Linux guest the
// SCSI disk whose WWN is the vSphere disk's UUID (/dev/disk/by-id/wwn-0x6000c29…, the helper needs
// disk.EnableUUID=TRUE), in the lab the device path the lab gives for the helper's new slot (GET
// /lab/vms). Either way the transporter then opens a path and writes at disk offsets.
import { readdir, realpath } from 'node:fs/promises';
import { request } from 'node:https';
import type { AttachedDisk } from './helper-disks.ts';

export interface DeviceLocator {
  readonly kind: string;
  /** The device path of a disk attached to the helper (waits up to `timeoutMs` for it to show). */
  find(helperMoref: string, disk: AttachedDisk, timeoutMs?: number): Promise<string>;
}

/** Linux guest: /dev/disk/by-id/wwn-0x<disk uuid without dashes>, after a rescan of the SCSI hosts. */
export class ScsiDeviceLocator implements DeviceLocator {
  readonly kind = 'scsi';
  readonly byId: string;
  readonly scsiHosts: string;
  constructor(byId = '/dev/disk/by-id', scsiHosts = '/sys/class/scsi_host') { this.byId = byId; this.scsiHosts = scsiHosts; }

  async find(_helper: string, disk: AttachedDisk, timeoutMs = 30_000): Promise<string> {
    if (!disk.uuid) throw new Error(`vCenter reports no UUID for the attached disk ${disk.fileName}: the transporter cannot tell which device it is.`);
    const wwn = `wwn-0x${disk.uuid.replace(/[^0-9a-f]/gi, '').toLowerCase()}`;
    const { writeFile } = await import('node:fs/promises');
    const hosts = await readdir(this.scsiHosts).catch(() => [] as string[]);
    await Promise.all(hosts.map((h) => writeFile(`${this.scsiHosts}/${h}/scan`, '- - -').catch(() => undefined)));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const names = await readdir(this.byId).catch(() => [] as string[]);
      if (names.includes(wwn)) return realpath(`${this.byId}/${wwn}`);
      if (Date.now() > deadline) {
        throw new Error(`No device ${this.byId}/${wwn} appeared for ${disk.fileName}: set disk.EnableUUID=TRUE in the transporter VM's advanced settings and check its SCSI controller.`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The lab: the helper's disk entry in GET /lab/vms (its flatPath is the device). */
export class LabDeviceLocator implements DeviceLocator {
  readonly kind = 'lab';
  readonly #url: string;
  readonly #token: string;
  readonly #ca: string;
  /** `ca`: the lab's certificate (PEM), the only one trusted for its control endpoints. */
  constructor(labUrl: string, token: string, ca: string) { this.#url = labUrl.replace(/\/+$/, ''); this.#token = token; this.#ca = ca; }

  async find(helper: string, disk: AttachedDisk): Promise<string> {
    const vms = await this.#get<Record<string, { moref: string; disks: { key: number; flatPath: string; attachedFrom?: unknown }[] }>>('/lab/vms');
    const vm = Object.values(vms).find((v) => v.moref === helper);
    const d = vm?.disks.find((x) => x.key === disk.key && x.attachedFrom);
    if (!d) throw new Error(`The lab shows no attached disk ${disk.key} on the transporter's VM ${helper}.`);
    return d.flatPath;
  }

  #get<T>(path: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = request(this.#url + path, { headers: { 'x-lab-token': this.#token }, ca: this.#ca }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) { reject(new Error(`lab ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`)); return; }
          try { resolve(JSON.parse(text) as T); } catch (e) { reject(e as Error); }
        });
      });
      req.on('error', reject);
      req.end();
    });
  }
}
