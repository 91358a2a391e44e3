// A restore point being written, as a disk sink. The repository's disk writer already speaks the
// sink's language (chunk-aligned writes, patches over the parent's chunks, finish).
import type { DiskWriter } from '../repository/repository.ts';
import type { DiskSink } from '../pipeline/disk-pipeline.ts';

export function repositorySink(w: DiskWriter): DiskSink {
  return {
    chunkSize: w.chunkSize,
    patchable: w.patchable,
    write: (offset, data) => w.write(offset, data),
    patch: (chunkStart, areas) => w.patch(chunkStart, areas),
    finish: async () => { await w.finish(); },
  };
}
