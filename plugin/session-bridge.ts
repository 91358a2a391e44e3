// Turns the vSphere Client's plugin session token into a vCenter session of that user:
// POST https://<vcenter>/api/ui/vcenter/session/clone-ticket with `vmware-api-session-id: <token>`
// answers a one-time clone ticket, and SessionManager.CloneSession redeems it for a SOAP session.
// The TLS connection is pinned to the same thumbprint as the service's own vCenter connection.
import { request } from 'node:https';
import { PinnedAgent } from '../backend/vsphere/tls.ts';
import { VSphere } from '../backend/vsphere/index.ts';
import { childLog } from '../backend/common/log.ts';

const log = childLog('session-bridge');

export interface BridgeOptions {
  vcenterUrl: string;          // https://vc/sdk
  thumbprint?: string;
  wsdl?: 'builtin' | 'server';
  /** vCenter's instance UUID (the vc_guid the clone-ticket endpoint asks for). */
  vcGuid: string;
}

export class SessionBridge {
  readonly #opts: BridgeOptions;
  readonly #agent: PinnedAgent;
  constructor(opts: BridgeOptions) {
    this.#opts = opts;
    this.#agent = new PinnedAgent({ thumbprint: opts.thumbprint, maxSockets: 4 });
  }

  /** A clone ticket for the session behind `token`; throws when vCenter does not know the token. */
  async cloneTicket(token: string): Promise<string> {
    const url = new URL('/api/ui/vcenter/session/clone-ticket', this.#opts.vcenterUrl);
    const body = JSON.stringify({ vc_guid: this.#opts.vcGuid });
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(url, {
        method: 'POST', agent: this.#agent, timeout: 30_000,
        headers: { 'content-type': 'application/json', 'vmware-api-session-id': token, 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (s += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: s }));
      });
      req.on('timeout', () => req.destroy(new Error('vCenter did not answer the clone-ticket request within 30 s')));
      req.on('error', reject);
      req.end(body);
    });
    if (status !== 200) throw new Error(`vCenter refused the plugin session token (HTTP ${status})`);
    const ticket = (JSON.parse(text) as { session_clone_ticket?: string }).session_clone_ticket;
    if (!ticket) throw new Error('vCenter answered the clone-ticket request without a ticket');
    return ticket;
  }

  /** The user's own vCenter session, cloned from the plugin token. */
  async session(token: string): Promise<VSphere> {
    const ticket = await this.cloneTicket(token);
    const vs = await VSphere.fromCloneTicket({ url: this.#opts.vcenterUrl, thumbprint: this.#opts.thumbprint, wsdl: this.#opts.wsdl, ticket });
    log.debug({ user: (await vs.session.currentSession())?.userName }, 'cloned a plugin session');
    return vs;
  }

  close(): void { this.#agent.destroy(); }
}
