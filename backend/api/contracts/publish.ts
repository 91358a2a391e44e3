// Publishing a restore point's disks read-only over NBD (issue 11), for the admin's own tools:
// `nbdinfo URL`, `nbdcopy URL out.img`, `qemu-img convert -f raw URL out.qcow2 -O qcow2`,
// `nbd-client` / `nbdfuse` on a Linux box, an antivirus or forensics tool reading the raw disk.
//
// Routes (under /api; the user must see the VM and hold VirtualMachine.Provisioning.DiskRandomRead
// and VirtualMachine.Provisioning.GetVmFiles on it, see model/privileges.ts publishDisk):
//   POST   /api/restore-points/:id/publish  DiskPublishRequest -> DiskPublication (201)
//   GET    /api/publications                                   -> DiskPublication[]  (VMs you see)
//   GET    /api/publications/:id                               -> DiskPublication
//   DELETE /api/publications/:id                               -> 204 (clients are disconnected)
//
// Each disk's address carries a random 256-bit token as its export name: whoever has the address can
// read the disk, so `url` is shown only to the user who published it. Publications live until they
// are unpublished or expire and end when the service restarts. While published, the disk's data is
// kept readable even if retention deletes the restore point meanwhile.

export interface DiskPublishRequest {
  /** Disk keys (RestorePoint.disks[].key); default every disk of the restore point. */
  disks?: number[];
  /** Serve only over TLS (nbds:// with the service's certificate). Default false. */
  tls?: boolean;
  /** Ends the publication by itself after this many minutes (1 to 43,200 = 30 days); default: until unpublished. */
  expiresInMinutes?: number;
  /** Client addresses or CIDR blocks allowed to connect (e.g. "192.0.2.10", "10.1.0.0/16"); default any. */
  allowFrom?: string[];
}

export interface DiskExport {
  disk: number;
  label?: string;
  /** Bytes. */
  size: number;
  /** nbd://host:port/<token> or nbds://…; only for the user who published it. */
  url?: string;
  /** Clients connected now. */
  connections: number;
}

export interface DiskPublication {
  id: string;
  restorePointId: string;
  vmId: string;
  vmName?: string;
  /** The vCenter user who published it. */
  owner: string;
  createdAt: string;
  expiresAt?: string;
  tls: boolean;
  allowFrom?: string[];
  exports: DiskExport[];
}
