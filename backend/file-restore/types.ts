// What the browse worker answers (plain, structured-clonable data). The API maps these to its DTOs
// (api/contracts/files.ts); the CLI's --repo mode prints them.
import type { FsEntry } from '../filesystems/types.ts';

export interface BrowseVolume {
  id: string;
  name: string;
  diskKey: string;
  diskLabel: string;
  kind: string;
  partition?: number;
  partitionType?: string;
  offset: number;
  sizeBytes: number;
  filesystem?: string;
  problem?: string;
}

export interface VolumeState {
  filesystem?: string;
  label?: string;
  consistency?: { clean: boolean; summary: string };
  problem?: string;
  browsable: boolean;
}

export type VolumeInfo = BrowseVolume & VolumeState;

export type EntryWithPath = FsEntry & { path: string; volumeId: string };

export interface DirPage { dir: FsEntry; entries: FsEntry[]; offset: number; total: number }

export interface WalkBatch { items: EntryWithPath[]; done: boolean; scanned: number; problems: { volumeId: string; message: string }[] }

/** Bytes the download route asks for in its first read (callers loop). */
export const READ_BLOCK = 1024 * 1024;
/** Bytes one read() of the browse worker returns at most (large files stream in blocks this big). */
export const MAX_READ_BLOCK = 2 * 1024 * 1024;
/**
 * Bytes of a download's blocks (fileBlocks, readInto into shared buffers): each is one message to the
 * browse worker (and, on more than 2 cores, one to each filler thread), so bigger blocks mean fewer
 * thread wake-ups; most of a block's chunks are whole and read straight into it.
 */
export const DOWNLOAD_BLOCK = 8 * 1024 * 1024;
