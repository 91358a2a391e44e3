// On-disk formats of the repository: constants, LevelDB key layout and binary record encodings.
//
// Layout of a repository folder:
//   config.json          version, chunk size, compression level, encryption parameters (wrapped key)
//   index/               LevelDB: chunk index, restore-point catalog, digest lists (keys below)
//   packs/<xx>/<id>.pack pack files: a sequence of chunk records, appended, fsynced before being indexed
//   points/<rpId>        each restore point's record and digest lists (points.ts), to rebuild the index from
//   lock                 JSON {pid, host, startedAt, heartbeat} of the one process that has it open
// All but index/ are storage objects (storage/storage.ts) named by these paths.
//
// LevelDB keys (binary):
//   'c' + id[32]                         -> ChunkEntry (21 bytes, see encodeEntry)
//   'r' + rpId                           -> restore point record (JSON, sealed when encrypted)
//   'd' + rpId + 0x00 + diskKey + 0x00 + seg(u32 BE) -> digest-list segment: up to SEGMENT_DIGESTS × 32 bytes
//   'm' + name                           -> facts: 'mpoints' = every restore point has its points/ object (points.ts),
//                                           'mrebuilt' = when rebuild-index made this index
//   'b' + id[32]                         -> damage marker (JSON {problem, pack?, markedAt}): verify found the
//                                           chunk damaged or missing; backups treat it as absent and store it
//                                           again, which points 'c' + id at the good copy and deletes the marker

export const FORMAT_VERSION = 1;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const DEFAULT_PACK_SIZE = 64 * 1024 * 1024;
export const DEFAULT_ZSTD_LEVEL = 2;
/** Digests per digest-list segment: 4096 × 32 B = 128 KiB values, 4 GiB of disk at 1 MiB chunks. */
export const SEGMENT_DIGESTS = 4096;
export const DIGEST_LEN = 32;
/** The all-zero digest marks an all-zero chunk, which is stored as nothing. */
export const ZERO_DIGEST = Buffer.alloc(DIGEST_LEN);

export const FLAG_COMPRESSED = 1;
export const FLAG_ENCRYPTED = 2;

/** Every chunk record in a pack starts with this header; the index points at the header. */
export const RECORD_MAGIC = 0x5350434b; // 'SPCK'
export const RECORD_HEADER = 48; // magic u32, flags u8, pad[3], rawLength u32, length u32, id[32]

export interface ChunkEntry {
  pack: string; // 16 hex chars
  offset: number; // of the record header in the pack
  length: number; // stored payload bytes (after the header)
  rawLength: number; // plaintext bytes
  flags: number;
}

export function encodeEntry(e: ChunkEntry): Buffer {
  const b = Buffer.allocUnsafe(25);
  b.write(e.pack, 0, 8, 'hex');
  b.writeUIntBE(e.offset, 8, 6);
  b.writeUInt32BE(e.length, 14);
  b.writeUInt32BE(e.rawLength, 18);
  b.writeUInt8(e.flags, 22);
  b.writeUInt16BE(0, 23);
  return b;
}

export function decodeEntry(b: Buffer): ChunkEntry {
  return {
    pack: b.toString('hex', 0, 8), offset: b.readUIntBE(8, 6), length: b.readUInt32BE(14),
    rawLength: b.readUInt32BE(18), flags: b.readUInt8(22),
  };
}

export function encodeHeader(id: Buffer, flags: number, rawLength: number, length: number): Buffer {
  const h = Buffer.alloc(RECORD_HEADER);
  h.writeUInt32BE(RECORD_MAGIC, 0);
  h.writeUInt8(flags, 4);
  h.writeUInt32BE(rawLength, 8);
  h.writeUInt32BE(length, 12);
  id.copy(h, 16);
  return h;
}

/** Whether a record header read from a pack matches the index entry's id and length. */
export function headerMatches(h: Buffer, id: Uint8Array, length: number): boolean {
  return h.readUInt32BE(0) === RECORD_MAGIC && h.readUInt32BE(12) === length && h.subarray(16, 48).equals(id);
}

export const K_CHUNK = 0x63; // 'c'
export function chunkKey(id: Buffer): Buffer {
  const k = Buffer.allocUnsafe(33);
  k[0] = K_CHUNK;
  id.copy(k, 1);
  return k;
}

export const K_BAD = 0x62; // 'b'
export function badKey(id: Buffer): Buffer {
  const k = Buffer.allocUnsafe(33);
  k[0] = K_BAD;
  id.copy(k, 1);
  return k;
}

export function rpKey(rpId: string): Buffer { return Buffer.from('r' + rpId); }
export function segKey(rpId: string, diskKey: string, seg: number): Buffer {
  const p = Buffer.from('d' + rpId + '\0' + diskKey + '\0');
  const k = Buffer.allocUnsafe(p.length + 4);
  p.copy(k);
  k.writeUInt32BE(seg, p.length);
  return k;
}
/** Key range covering all segments of one disk (or of all disks of a restore point when diskKey is undefined). */
export function segRange(rpId: string, diskKey?: string): { gte: Buffer; lt: Buffer } {
  const p = diskKey === undefined ? 'd' + rpId + '\0' : 'd' + rpId + '\0' + diskKey + '\0';
  return { gte: Buffer.from(p), lt: Buffer.concat([Buffer.from(p), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])]) };
}

/** Storage object name of a pack: "packs/<first 2 hex>/<id>.pack". */
export function packName(pack: string): string {
  return `packs/${pack.slice(0, 2)}/${pack}.pack`;
}

/** The pack id of a storage object name, or undefined if the name is not a pack's. */
export function packIdOf(name: string): string | undefined {
  const m = /^packs\/[0-9a-f]{2}\/([0-9a-f]{16})\.pack$/.exec(name);
  return m?.[1];
}

export const PACKS_PREFIX = 'packs/';

/** The file of a pack in a local repository folder (LocalStorage.pathOf(packName(pack))); used by the chunk workers. */
export function packPath(dir: string, pack: string): string {
  return `${dir}/${packName(pack)}`;
}

export function isZeroDigest(b: Buffer, off = 0): boolean {
  for (let i = off; i < off + DIGEST_LEN; i++) if (b[i] !== 0) return false;
  return true;
}

export function chunkCount(capacity: number, chunkSize: number): number {
  return Math.ceil(capacity / chunkSize);
}
