// TLS to vCenter / ESXi: SHA-256 thumbprint pinning, or normal CA verification when no thumbprint is given.
//
// Pinning happens in the agent's createConnection: the TLS handshake completes, the peer certificate's
// fingerprint is compared with the configured one, and only then is the socket handed to HTTP. On a
// mismatch the socket is destroyed before a single request byte is written.
import { createHash, X509Certificate } from 'node:crypto';
import { Agent, type AgentOptions } from 'node:https';
import type { ClientRequestArgs } from 'node:http';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { ThumbprintMismatchError } from './faults.ts';

export type TlsOptions = {
  /** SHA-256 (64 hex digits) or SHA-1 (40 hex digits) certificate thumbprint, with or without colons. */
  thumbprint?: string;
  /** Extra trusted CA certificates (PEM) for CA verification when no thumbprint is given. */
  ca?: string | string[];
  /** Keep-alive sockets per host (default 16). */
  maxSockets?: number;
};

/** "aa bb:cc" → "AA:BB:CC". Throws on something that is not a SHA-1 or SHA-256 thumbprint. */
export function normalizeThumbprint(t: string): string {
  const hex = t.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  if (hex.length !== 64 && hex.length !== 40) {
    throw new Error(`not a SHA-256 or SHA-1 certificate thumbprint: ${t}`);
  }
  return hex.match(/../g)!.join(':');
}

/** SHA-256 thumbprint ("AA:BB:…") of a PEM or DER certificate. */
export function certThumbprint(cert: string | Buffer, algorithm: 'sha256' | 'sha1' = 'sha256'): string {
  const der = typeof cert === 'string' ? new X509Certificate(cert).raw : cert;
  return createHash(algorithm).update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

type ConnectCallback = (err: Error | null, socket: Duplex) => void;

/**
 * An https.Agent that pins the server certificate by thumbprint. With no thumbprint it is a plain keep-alive
 * agent doing normal CA verification (plus `ca`); it never accepts any certificate blindly.
 */
export class PinnedAgent extends Agent {
  readonly thumbprint: string | undefined;

  constructor(opts: TlsOptions = {}) {
    const base: AgentOptions = {
      keepAlive: true,
      maxSockets: opts.maxSockets ?? 16,
      maxFreeSockets: opts.maxSockets ?? 16,
      scheduling: 'lifo',
    };
    if (opts.thumbprint) {
      // No TLS session reuse, so every socket presents (and is checked against) a full certificate.
      base.maxCachedSessions = 0;
    } else if (opts.ca) {
      base.ca = opts.ca;
    }
    super(base);
    this.thumbprint = opts.thumbprint ? normalizeThumbprint(opts.thumbprint) : undefined;
  }

  override createConnection(args: ClientRequestArgs, callback?: ConnectCallback): Duplex | null | undefined {
    const expected = this.thumbprint;
    if (!expected) return super.createConnection(args, callback);
    const options = args as tls.ConnectionOptions;
    const algorithm = expected.length === 95 ? 'sha256' : 'sha1';
    // Self-signed certificates are the norm for vCenter/ESXi: the pin below replaces chain verification,
    // and nothing is written on the socket before it matched.
    const socket = tls.connect({ ...options, rejectUnauthorized: false });
    let done = false;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      socket.removeListener('error', onError);
      if (err) {
        socket.destroy();
        callback?.(err, socket);
      } else {
        callback?.(null, socket);
      }
    };
    const onError = (err: Error): void => finish(err);
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      if (!cert || !cert.raw) {
        finish(new ThumbprintMismatchError(expected, '(no certificate)', `${options.host}:${options.port}`));
        return;
      }
      const actual = certThumbprint(cert.raw, algorithm);
      if (actual !== expected) {
        finish(new ThumbprintMismatchError(expected, actual, `${options.host}:${options.port}`));
        return;
      }
      finish(null);
    });
    return undefined;
  }
}

/** Fetches the server's certificate thumbprint (for a "trust this certificate?" prompt). Sends no request. */
export function fetchThumbprint(host: string, port = 443, timeoutMs = 10_000): Promise<{ sha256: string; sha1: string; pem: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, servername: host.match(/^[\d.]+$|:/) ? undefined : host, rejectUnauthorized: false });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`timeout connecting to ${host}:${port}`)));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.destroy();
      const pem = `-----BEGIN CERTIFICATE-----\n${cert.raw.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
      resolve({ sha256: certThumbprint(cert.raw), sha1: certThumbprint(cert.raw, 'sha1'), pem });
    });
  });
}
