/** Shared interfaces for the read-only, on-demand filesystem readers (issue 11). */

/** Random-access reader over a partition of a disk image. */
export interface ReadAt {
  readonly size: number
  readAt(offset: number, length: number): Promise<Buffer>
  /** Optional: reads [offset, offset + out.length) into `out` (a reused buffer: no new memory per read); the bytes written, fewer only at the end. */
  readInto?(offset: number, out: Uint8Array): Promise<number>
}

export type FsEntryType = 'file' | 'dir' | 'symlink' | 'reparse' | 'other'

export interface FsEntry { ref: string; name: string; type: FsEntryType; size: number; mtime?: string; ctime?: string; atime?: string; btime?: string; mode?: number; uid?: number; gid?: number; attributes?: string[]; streams?: { name: string; size: number }[]; linkTarget?: string; inode: number; /** Why the entry's own metadata could not be read (listed anyway, with what its folder says). */ error?: string }

/** Every failure caused by guest-controlled bytes surfaces as an FsError with a code. */
export type FsErrorCode = 'ECORRUPT' | 'ELOOP' | 'ERANGE' | 'ENOTSUP' | 'ENOENT' | 'ENOTDIR' | 'ELIMIT'

/** Every failure caused by guest-controlled bytes surfaces as an FsError with a code.
 *  (Same shape as `constructor(readonly code, message)`, written without a parameter
 *  property because node's type stripping / erasableSyntaxOnly rejects those.) */
export class FsError extends Error {
  readonly code: FsErrorCode
  constructor(code: FsErrorCode, message: string) { super(message); this.code = code; this.name = 'FsError' }
}
