// A frozen disk of a snapshot as a disk source: ranged GETs of the disk's flat extent over datastore
// HTTP (the snapshot's parent file, which stays still while the snapshot exists). Only a flat extent
// reads as the disk: a sparse one (a snapshot delta, vmfsSparse/SEsparse; a hosted sparse disk) holds
// grains in its own layout and leaves the rest to its parent, so it is refused rather than read wrong.
import { Conflict } from '../../common/errors.ts';
import type { DiskInfo, VmdkDescriptor, VSphere } from '../../vsphere/index.ts';
import type { DiskSource } from '../../pipeline/disk-pipeline.ts';

/** What makes a descriptor's data extent unreadable as raw bytes, or undefined when it is flat. */
export function sparseKind(d: VmdkDescriptor): string | undefined {
  const ext = d.extents.find((e) => e.file);
  if (d.createType && /sparse|streamoptimized/i.test(d.createType)) return `createType "${d.createType}"`;
  if (ext && /sparse/i.test(ext.type)) return `extent type ${ext.type}`;
  return undefined;
}

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
    const { descriptor, extentPath } = await vs.datastores.resolveExtent(disk.fileName);
    const sparse = sparseKind(descriptor);
    if (sparse) {
      const delta = descriptor.parentFileNameHint !== undefined || /vmfssparse|sesparse/i.test(sparse);
      throw new Conflict(`${disk.label} as the snapshot froze it is ${disk.fileName}, a sparse file (${sparse})${delta ? ': a snapshot delta' : ''}, which a datastore read cannot show as the disk. ` +
        (delta
          ? 'The VM has snapshots made outside Stillpoint (or left by another program): delete or consolidate them in the vSphere Client (Snapshots › Manage Snapshots, or Consolidate), then run again.'
          : 'Convert the disk to a flat (thick or thin) VMFS disk (e.g. migrate it with Storage vMotion), then run again.'),
      { disk: disk.label, file: disk.fileName, kind: sparse });
    }
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
