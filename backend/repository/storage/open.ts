// Opens the storage a StorageLocation names (in a worker thread or child process, from a descriptor).
import { LocalStorage } from './local.ts';
import { StorageError, type Storage, type StorageLocation } from './storage.ts';

export function storageFor(location: StorageLocation): Storage {
  switch (location?.kind) {
    case 'local': return new LocalStorage(location.path);
    default: throw new StorageError('EINVAL', `unknown storage kind ${JSON.stringify((location as { kind?: unknown } | undefined)?.kind)}`);
  }
}
