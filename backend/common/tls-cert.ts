// The plugin server's HTTPS certificate: generated (self-signed, with the host names in the
// subjectAltName) on first start, kept in the data folder, replaceable by the admin's own files.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { childLog } from './log.ts';

export interface ServerCert { cert: string; key: string; thumbprint: string }

export function loadOrCreateServerCert(dataDir: string, opts: { certFile?: string; keyFile?: string; hostnames?: string[] } = {}): ServerCert {
  const certFile = opts.certFile ?? join(dataDir, 'tls', 'server.crt');
  const keyFile = opts.keyFile ?? join(dataDir, 'tls', 'server.key');
  if (!existsSync(certFile) || !existsSync(keyFile)) {
    if (opts.certFile || opts.keyFile) throw new Error(`TLS certificate or key not found (${certFile}, ${keyFile}): fix the paths in the configuration or remove them to use a generated certificate.`);
    mkdirSync(join(dataDir, 'tls'), { recursive: true, mode: 0o700 });
    const names = ['localhost', '127.0.0.1', ...(opts.hostnames ?? [])];
    const san = names.map((n) => (/^[\d.]+$|:/.test(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '825',
      '-subj', '/CN=Stillpoint plugin server', '-addext', `subjectAltName=${san}`, '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
    childLog('tls').info({ certFile }, 'generated a self-signed server certificate');
  }
  const cert = readFileSync(certFile, 'utf8');
  return { cert, key: readFileSync(keyFile, 'utf8'), thumbprint: new X509Certificate(cert).fingerprint256 };
}
