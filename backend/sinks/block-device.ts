// A block device or a disk image file as a disk sink: positional writes, fsync at the end. This is
// the replica's end of the pipeline on a transporter (a hot-added replica disk is a device path) and
// the target of a restore to a local image. It keeps what it is not told to write, so an
// incremental writes only the changed areas (patchable).
import { open, type FileHandle } from 'node:fs/promises';
import type { DiskSink } from '../pipeline/disk-pipeline.ts';

export class BlockDeviceSink implements DiskSink {
  readonly chunkSize: number;
  readonly patchable = true;
  readonly path: string;
  #fh: FileHandle;
  bytesWritten = 0;

  private constructor(path: string, fh: FileHandle, chunkSize: number) {
    this.path = path;
    this.#fh = fh;
    this.chunkSize = chunkSize;
  }

  /** Opens an existing device or file for writing; `capacity` sizes a regular file (never shrinks a device). */
  static async open(path: string, opts: { chunkSize?: number; capacity?: number; create?: boolean } = {}): Promise<BlockDeviceSink> {
    const fh = await open(path, opts.create ? 'a+' : 'r+').then(async (h) => {
      if (!opts.create) return h;
      await h.close();
      return open(path, 'r+');
    });
    try {
      const st = await fh.stat();
      if (st.isFile() && opts.capacity !== undefined && st.size !== opts.capacity) await fh.truncate(opts.capacity);
    } catch (e) { await fh.close(); throw e; }
    return new BlockDeviceSink(path, fh, opts.chunkSize ?? 1024 * 1024);
  }

  async write(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.#fh.write(data, done, data.length - done, offset + done);
      if (bytesWritten <= 0) throw new Error(`${this.path}: the device took no bytes at offset ${offset + done}`);
      done += bytesWritten;
    }
    this.bytesWritten += data.length;
  }

  async patch(chunkStart: number, areas: { at: number; data: Buffer }[]): Promise<void> {
    for (const a of areas) await this.write(chunkStart + a.at, a.data);
  }

  async finish(): Promise<void> {
    await this.#fh.sync();
    await this.#fh.close();
  }

  async abort(): Promise<void> { await this.#fh.close().catch(() => undefined); }
}
