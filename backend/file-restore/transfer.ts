// A worker-side result whose ArrayBuffers move to the main thread instead of being copied (isolation.ts):
// `return new Transfer(bytes, [bytes.buffer])`. Only for buffers the worker does not keep (a fresh read,
// never a cache entry or a slice of a pooled Buffer): a transferred buffer is gone from the worker.
export class Transfer<T> {
  readonly value: T;
  readonly list: ArrayBuffer[];
  constructor(value: T, list: ArrayBuffer[]) {
    this.value = value;
    this.list = list;
  }
}
