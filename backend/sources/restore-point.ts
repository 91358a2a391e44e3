// A disk of a restore point in the repository as a disk source: replication from a backup, backup
// copies and item restore read restore points through this, never through the repository's files.
import type { DiskImage, Repository } from '../repository/repository.ts';
import type { DiskSource } from '../pipeline/disk-pipeline.ts';

export class RestorePointDiskSource implements DiskSource {
  readonly description: string;
  readonly capacity: number;
  readonly #image: DiskImage;

  private constructor(image: DiskImage, capacity: number, description: string) {
    this.#image = image;
    this.capacity = capacity;
    this.description = description;
  }

  static async open(repo: Repository, rpId: string, diskKey: string): Promise<RestorePointDiskSource> {
    const rp = await repo.getRestorePoint(rpId);
    const disk = rp.disks.find((d) => d.key === diskKey);
    if (!disk) throw new Error(`restore point ${rpId} has no disk ${diskKey} (disks: ${rp.disks.map((d) => d.key).join(', ')})`);
    const image = await repo.openDiskImage(rpId, diskKey);
    return new RestorePointDiskSource(image, disk.capacity, `${disk.label} of ${rp.vm.name} (restore point ${rp.id})`);
  }

  async read(start: number, length: number, signal?: AbortSignal): Promise<Buffer> {
    signal?.throwIfAborted();
    const buf = await this.#image.readAt(start, length);
    if (buf.length === length) return buf;
    const full = Buffer.alloc(length);
    buf.copy(full);
    return full;
  }

  async close(): Promise<void> { await this.#image.close(); }
}
