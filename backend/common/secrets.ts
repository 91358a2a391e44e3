// Secrets at rest (vCenter and guest credentials, repository passphrases) are sealed with
// AES-256-GCM under a per-installation key kept in the data folder with mode 0600. The key never
// leaves this module; sealed values are "sp1:<base64 iv|tag|ciphertext>".
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';

const PREFIX = 'sp1:';

export class SecretBox {
  readonly #key: Buffer;
  private constructor(key: Buffer) { this.#key = key; }

  /** Opens (or creates on first use) the installation key in `dataDir/secret.key`. */
  static forDataDir(dataDir: string): SecretBox {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const file = join(dataDir, 'secret.key');
    let key: Buffer;
    try {
      key = readFileSync(file);
      if (key.length !== 32) throw new Error(`${file} is damaged (expected 32 bytes): restore it from a backup, or delete it and enter every stored password again.`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      key = randomBytes(32);
      writeFileSync(file, key, { mode: 0o600, flag: 'wx' });
    }
    chmodSync(file, 0o600);
    return new SecretBox(key);
  }

  static isSealed(value: string): boolean { return value.startsWith(PREFIX); }

  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.#key, iv);
    const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  open(sealed: string): string {
    if (!SecretBox.isSealed(sealed)) throw new Error('not a sealed secret');
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    const d = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString('utf8');
    } catch {
      throw new Error('A stored secret cannot be decrypted with this installation\'s secret.key: was the data folder copied without it? Enter the password again.');
    }
  }
}
