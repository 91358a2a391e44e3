// Datastore file management a restore needs beyond datastore HTTP: FileManager.MakeDirectory and
// FileManager.DeleteDatastoreFile_Task (both in the vim25 subset the client ships), and "does it exist".
import { FileFaultError, type MoRef, type VSphere } from '../vsphere/index.ts';

function fileManager(vs: VSphere): MoRef {
  const fm = vs.client.serviceContent.fileManager;
  if (!fm) throw new Error('this vCenter has no FileManager');
  return fm;
}

/** Creates a datastore folder ("[ds] name"). */
export async function makeDirectory(vs: VSphere, dsPath: string, datacenter: MoRef): Promise<void> {
  await vs.client.call('MakeDirectory', { _this: fileManager(vs), name: dsPath, datacenter, createParentDirectories: true });
}

/** Deletes a datastore file or folder (recursively). */
export async function deleteDatastoreFile(vs: VSphere, dsPath: string, datacenter: MoRef): Promise<void> {
  const task = await vs.client.call<MoRef>('DeleteDatastoreFile_Task', { _this: fileManager(vs), name: dsPath, datacenter });
  await vs.waitForTask(task, { timeoutMs: 10 * 60_000 });
}

/** Whether a datastore file exists; a folder is asked for with a trailing slash ("[ds] name/"). */
export async function datastoreFileExists(vs: VSphere, dsPath: string, dcPath?: string): Promise<boolean> {
  try {
    const s = await vs.datastores.readStream(dsPath, dcPath ? { dcPath } : {});
    s.destroy();
    return true;
  } catch (err) {
    if (err instanceof FileFaultError && err.fault === 'FileNotFound') return false;
    throw err;
  }
}
