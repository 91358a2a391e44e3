// Shared helpers for the vSphere layer's integration tests (each test file starts its own lab).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VSphere } from '../../backend/vsphere/index.ts';
import type { Lab } from '../lab/lab.ts';

export function connect(lab: Lab, extra: Record<string, unknown> = {}): Promise<VSphere> {
  return VSphere.connect({ url: lab.url, thumbprint: lab.thumbprint, username: lab.username, password: lab.password, ...extra });
}

/** A throw-away self-signed certificate (for TLS servers the tests run themselves). */
export function selfSignedCert(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sp-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem')], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, 'k.pem'), 'utf8'), cert: readFileSync(join(dir, 'c.pem'), 'utf8') };
}
