// A frozen disk of a snapshot as a disk source: ranged GETs of the disk's flat extent over datastore
// HTTP (the snapshot's parent file, which stays still while the snapshot exists).
import type { DiskInfo, VSphere } from '../../vsphere/index.ts';
import type { DiskSource } from '../../pipeline/disk-pipeline.ts';

export class SnapshotDiskSource implements DiskSource {
  readonly description: string;
  readonly capacity: number;
  readonly extentPath: string;
  readonly #vs: VSphere;

  private constructor(vs: VSphere, disk: DiskInfo, extentPath: string) {
    this.#vs = vs;
    this.capacity = disk.capacityBytes;
    this.extentPath = extentPath;
    this.description = `${disk.label} (${disk.fileName}, snapshot)`;
  }

  static async open(vs: VSphere, disk: DiskInfo): Promise<SnapshotDiskSource> {
    const { extentPath } = await vs.datastores.resolveExtent(disk.fileName);
    return new SnapshotDiskSource(vs, disk, extentPath);
  }

  /** One ranged read, retried twice on a broken transfer; a short file reads as zeros past its end. */
  async read(start: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    for (let attempt = 1; ; attempt++) {
      try {
        const buf = await this.#vs.datastores.read(this.extentPath, { start, end: start + length, ...(signal ? { signal } : {}) });
        if (buf.length === length) return buf;
        if (buf.length < length) {
          const full = Buffer.alloc(length);
          buf.copy(full);
          return full;
        }
        return buf.subarray(0, length);
      } catch (e) {
        if (attempt >= 3 || signal?.aborted) throw e;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }
}
