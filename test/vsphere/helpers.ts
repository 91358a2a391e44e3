// Shared helpers for the vSphere layer's integration tests (each test file starts its own lab).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectToLab } from '../helpers/lab-vsphere.ts';
import { startLab, type Lab, type StartLabOptions } from '../lab/lab.ts';
import type { VSphere } from '../../backend/vsphere/index.ts';

export { connectToLab as connect };

/** A lab without disk images (unless asked), an administrator session on it, and its VMs: a suite's `before`. */
export async function startLabSession(opts: StartLabOptions = {}) {
  const lab = await startLab({ images: false, ...opts });
  const vs = await connectToLab(lab);
  return { lab, vs, vms: await lab.control.vms() };
}

/** The matching `after`: whatever of the two `before` got to start. */
export async function stopLabSession(lab: Lab | undefined, vs: VSphere | undefined): Promise<void> {
  await vs?.close();
  await lab?.stop();
}

/** A throw-away self-signed certificate (for TLS servers the tests run themselves). */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sp-cert-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
    return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
