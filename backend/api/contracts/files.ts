// File-level restore (issue 11): browse the disks of a restore point, search, download.
// Files are named by ids, never by paths the service would join: a volume id (from FileVolume.id)
// plus an entry ref (FileEntry.ref, opaque). Paths in answers are for display only.
//
// Routes (under /api; the user must see the VM and hold VirtualMachine.Provisioning.GetVmFiles on it):
//   GET  /api/restore-points/:id/volumes                                   -> FileVolume[]
//   GET  /api/restore-points/:id/volumes/:volumeId/list?ref=&offset=&limit= -> FileListing   (no ref: the root)
//   GET  /api/restore-points/:id/volumes/:volumeId/entry?ref=              -> FileEntry
//   GET  /api/restore-points/:id/search?pattern=&volumeId=&limit=          -> FileSearchResult (pattern: glob)
//   GET  /api/restore-points/:id/volumes/:volumeId/content?ref=&stream=    -> the file's bytes
//        (Range: bytes=… → 206 with Content-Range; If-Range; Last-Modified; Content-Disposition with the
//        original name, RFC 5987 filename* for non-ASCII; `stream` names an NTFS alternate data stream)
//   POST /api/restore-points/:id/zip            FileZipRequest             -> application/zip (streamed, zip64)
//   POST /api/restore-points/:id/download-links FileDownloadLinkRequest    -> FileDownloadLink (201)
//   GET  /api/downloads/:token                                             -> the file or zip; no session
//        header needed (for <a href>): the token is single-use (spent by its first request) and expires
//        after 5 minutes; visibility and privileges are checked when the link is made

/** One filesystem (or unreadable partition) on one disk of a restore point. */
export interface FileVolume {
  /** Stable id within the restore point, e.g. "2000-p1" (disk key, partition index) or "2000-disk" (no partition table). */
  id: string;
  /** For people: "Hard disk 1, partition 2 (Microsoft basic data)". */
  name: string;
  diskKey: number;
  /** The disk's label in the restore point, e.g. "Hard disk 1". */
  diskLabel: string;
  /** 1-based partition index; absent for a whole-disk filesystem. */
  partition?: number;
  /** e.g. "Microsoft basic data", "Linux filesystem", "FAT32 (LBA)". */
  partitionType?: string;
  /** Byte offset of the volume on its disk, and its size. */
  offset: number;
  sizeBytes: number;
  /** 'ntfs' | 'ext' | 'fat' | 'exfat' | 'xfs'; absent when no reader recognises the volume. */
  filesystem?: string;
  label?: string;
  /** What the filesystem says about itself (clean, or what a mount would repair). */
  consistency?: { clean: boolean; summary: string };
  /** Why this volume cannot be browsed (unknown filesystem, damaged, too slow), and what to do. */
  problem?: string;
  browsable: boolean;
}

export type FileEntryType = 'file' | 'dir' | 'symlink' | 'reparse' | 'other';

export interface FileEntry {
  volumeId: string;
  /** Opaque reference of the entry on its volume: pass it back as `ref`. */
  ref: string;
  name: string;
  type: FileEntryType;
  size: number;
  mtime?: string;
  ctime?: string;
  atime?: string;
  /** Creation time where the filesystem keeps it (NTFS, FAT, exFAT, ext4). */
  btime?: string;
  /** POSIX mode bits (ext), owner ids. */
  mode?: number;
  uid?: number;
  gid?: number;
  /** Windows attributes where present, e.g. ["hidden", "system", "readonly"]. */
  attributes?: string[];
  /** NTFS alternate data streams (name, size); download one with `stream=`. */
  streams?: { name: string; size: number }[];
  linkTarget?: string;
  /** Display path from the volume root ("Users/Public/readme.txt"), where known (search, stat after list). */
  path?: string;
  /** Set when the entry's own metadata is damaged: it is listed with what its folder says, and cannot be downloaded. */
  error?: string;
}

export interface FileListing {
  volumeId: string;
  /** The listed directory. */
  dir: FileEntry;
  /** Entries in [offset, offset+limit), directories first, then by name. */
  entries: FileEntry[];
  offset: number;
  total: number;
  /** How long opening this restore point's disks and filesystems took (once per browse session). */
  openedInMs?: number;
}

export interface FileSearchMatch extends FileEntry {
  path: string;
  diskKey: number;
}

export interface FileSearchResult {
  pattern: string;
  matches: FileSearchMatch[];
  /** true when the limit or the time budget (60 s; 10 min for NDJSON) stopped the search before every volume was walked. */
  truncated: boolean;
  /** Entries looked at. */
  scanned: number;
  /** Volumes that could not be searched, with why. */
  problems?: { volumeId: string; message: string }[];
}

export interface FileItemRef { volumeId: string; ref: string }

export interface FileZipRequest {
  items: FileItemRef[];
  /** Name of the archive offered to the browser (default "<vm>-<date>.zip"). */
  name?: string;
}

export type FileDownloadLinkRequest =
  | { kind: 'file'; volumeId: string; ref: string; stream?: string }
  | { kind: 'zip'; items: FileItemRef[]; name?: string };

export interface FileDownloadLink {
  /** Relative URL (/api/downloads/<token>), usable by `<a href>` without the session header. */
  url: string;
  expiresAt: string;
}
