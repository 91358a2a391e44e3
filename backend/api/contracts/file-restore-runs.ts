// Putting restored files back into the running VM (issue 11): files and folders of a restore point,
// named by volume id + entry ref (as browsing returned them), written into the VM's guest through
// vSphere guest operations with a stored guest credential. The answer is a run (kind 'file-restore')
// with progress in the event stream and a place in the run history.
//
//   POST /api/restore-points/:id/files/restore   FileRestoreRequest -> JobRun (202)
//
// Needs: the VM visible, VirtualMachine.Provisioning.GetVmFiles (reading its files) and
// VirtualMachine.GuestOperations.Modify (writing into its guest) on it, and the right to use the
// credential (your own, or a shared one). 409 when the VM is not powered on or VMware Tools is not
// running in it; 400 for a folder that is not absolute for the VM's guest family.
import type { FileItemRef } from './files.ts';

/** What happens to a file that exists in the guest already. 'keep-both' writes the restored one as "name (1).ext". */
export type ExistingFileChoice = 'skip' | 'overwrite' | 'keep-both';

/**
 * 'original': where each file was (the Windows system volume is C:\, the Linux root filesystem /;
 * files of other volumes fail with a clear reason: restore them to a folder). 'folder': an absolute
 * guest folder (C:\Restore, /srv/restore), made when missing; each selected item lands in it under
 * its own name, folders with everything under them.
 */
export type FileRestoreTarget = { kind: 'original' } | { kind: 'folder'; path: string };

export interface FileRestoreRequest {
  items: FileItemRef[];
  target: FileRestoreTarget;
  existing: ExistingFileChoice;
  /** A stored guest credential (GET /api/credentials). */
  credentialId: string;
}
