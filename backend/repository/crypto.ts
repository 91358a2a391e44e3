// Repository encryption: a random master key (AES-256-GCM chunk key + HMAC-SHA256 id key) wrapped by a
// key derived from the passphrase with scrypt. Chunk ids of encrypted repositories are HMAC-SHA256(idKey,
// plaintext), so they do not reveal plaintext hashes. Keys never leave this module in log records.
import { createCipheriv, createDecipheriv, randomBytes, scrypt as scryptCb, createHash, createHmac } from 'node:crypto';
import { wrongPassphrase } from './errors.ts';

// Not util.promisify: importing node:util loads ~30 more of Node's own modules at every CLI start.
const scrypt = (pw: string, salt: Buffer, len: number, opts: object): Promise<Buffer> =>
  new Promise((resolve, reject) => scryptCb(pw, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))));

export interface RepoKeys { encKey: Buffer; idKey: Buffer }

/** The `encryption` block of config.json. */
export interface KeyBlock {
  kdf: 'scrypt'; N: number; r: number; p: number; salt: string;
  cipher: 'aes-256-gcm'; iv: string; tag: string; wrapped: string;
}

const KDF = { N: 1 << 15, r: 8, p: 1 };

async function kek(passphrase: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  return scrypt(passphrase, salt, 32, { N, r, p, maxmem: 256 * N * r });
}

export async function createKeyBlock(passphrase: string): Promise<{ block: KeyBlock; keys: RepoKeys }> {
  if (!passphrase) throw new Error('an empty passphrase is not allowed');
  const master = randomBytes(64);
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const k = await kek(passphrase, salt, KDF.N, KDF.r, KDF.p);
  const c = createCipheriv('aes-256-gcm', k, iv);
  c.setAAD(Buffer.from('stillpoint-master-key-v1'));
  const wrapped = Buffer.concat([c.update(master), c.final()]);
  const block: KeyBlock = {
    kdf: 'scrypt', ...KDF, salt: salt.toString('base64'), cipher: 'aes-256-gcm',
    iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), wrapped: wrapped.toString('base64'),
  };
  return { block, keys: { encKey: master.subarray(0, 32), idKey: master.subarray(32) } };
}

/** Unwraps the master key; the GCM tag is the key check, so a wrong passphrase fails here with a clear error. */
export async function openKeyBlock(dir: string, block: KeyBlock, passphrase: string): Promise<RepoKeys> {
  const k = await kek(passphrase, Buffer.from(block.salt, 'base64'), block.N, block.r, block.p);
  const d = createDecipheriv('aes-256-gcm', k, Buffer.from(block.iv, 'base64'));
  d.setAAD(Buffer.from('stillpoint-master-key-v1'));
  d.setAuthTag(Buffer.from(block.tag, 'base64'));
  let master: Buffer;
  try {
    master = Buffer.concat([d.update(Buffer.from(block.wrapped, 'base64')), d.final()]);
  } catch {
    throw wrongPassphrase(dir);
  }
  return { encKey: master.subarray(0, 32), idKey: master.subarray(32) };
}

/** Chunk id: SHA-256 of the plaintext, or HMAC-SHA256 with the repository id key when encrypted. */
export function chunkId(data: Uint8Array, idKey: Buffer | undefined): Buffer {
  return idKey ? createHmac('sha256', idKey).update(data).digest() : createHash('sha256').update(data).digest();
}

/** Bytes sealChunk adds: the iv and the tag. */
export const SEAL_OVERHEAD = 12 + 16;

/** AES-256-GCM: iv[12] ‖ ciphertext ‖ tag[16], the chunk id as additional data. */
export function sealChunk(data: Uint8Array, encKey: Buffer, id: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', encKey, iv);
  c.setAAD(id);
  const out = Buffer.allocUnsafe(12 + data.length + 16);
  iv.copy(out, 0);
  const n = c.update(data).copy(out, 12);
  const f = c.final();
  f.copy(out, 12 + n);
  c.getAuthTag().copy(out, 12 + n + f.length);
  return out.subarray(0, 12 + n + f.length + 16);
}

export function openChunk(data: Uint8Array, encKey: Buffer, id: Buffer): Buffer {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const d = createDecipheriv('aes-256-gcm', encKey, b.subarray(0, 12));
  d.setAAD(id);
  d.setAuthTag(b.subarray(b.length - 16));
  return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
}

/** Seals catalog metadata (restore point records: VM names, notes, vmConfig) of encrypted repositories. */
export function sealMeta(json: unknown, keys: RepoKeys | undefined): Buffer {
  const plain = Buffer.from(JSON.stringify(json));
  if (!keys) return plain;
  return Buffer.concat([Buffer.from([0x01]), sealChunk(plain, keys.encKey, Buffer.from('meta'))]);
}

export function openMeta<T>(b: Buffer, keys: RepoKeys | undefined): T {
  if (!keys) return JSON.parse(b.toString()) as T;
  return JSON.parse(openChunk(b.subarray(1), keys.encKey, Buffer.from('meta')).toString()) as T;
}
