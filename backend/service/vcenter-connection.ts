// The service account's connection to vCenter: connects on demand, reconnects with backoff after
// vCenter was unreachable, and reports its state for /api/health. The VSphere client itself logs in
// again when a session expires.
import { VSphere } from '../vsphere/index.ts';
import { VCenterUnreachableError } from '../vsphere/faults.ts';
import { Unavailable } from '../common/errors.ts';
import { childLog } from '../common/log.ts';
import type { VcenterConfig } from '../config.ts';

const log = childLog('vcenter');

export class VcenterConnection {
  readonly #cfg: VcenterConfig & { id?: string };
  #vs: Promise<VSphere> | undefined;
  #lastError: Error | undefined;
  #retryAt = 0;

  constructor(cfg: VcenterConfig & { id?: string }) { this.#cfg = cfg; }

  get url(): string { return this.#cfg.url; }

  /** The connected client; throws Unavailable (503) with the reason when vCenter cannot be reached. */
  async get(): Promise<VSphere> {
    if (!this.#vs) {
      if (Date.now() < this.#retryAt && this.#lastError) throw this.#unavailable(this.#lastError);
      const { url, username, password, thumbprint, wsdl, cloneTicket } = this.#cfg;
      if (username && password !== undefined) {
        this.#vs = VSphere.connect({ url, username, password, thumbprint, wsdl });
      } else if (cloneTicket) {
        // Clone-ticket mode: the service borrows a session someone else logged in. A ticket works once;
        // when that session ends, the service needs a new ticket (or credentials) to reconnect.
        this.#cfg.cloneTicket = undefined;
        this.#vs = VSphere.fromCloneTicket({ url, ticket: cloneTicket, wsdl, ...(thumbprint ? { thumbprint } : {}) });
      } else {
        throw new Unavailable('vcenter_not_configured', 'No vCenter service account is configured: set the vCenter user and password (or a clone ticket) in the Stillpoint configuration.');
      }
      this.#vs.then((vs) => {
        this.#lastError = undefined;
        log.info({ site: this.#cfg.id, url, version: vs.about.version }, 'connected to vCenter');
      }, (e: Error) => {
        this.#vs = undefined;
        this.#lastError = e;
        this.#retryAt = Date.now() + 5_000;
        log.warn({ site: this.#cfg.id, url, err: e.message }, 'cannot connect to vCenter');
      });
    }
    try {
      return await this.#vs;
    } catch (e) {
      throw this.#unavailable(e as Error);
    }
  }

  status(): { connected: boolean; message?: string } {
    return this.#lastError ? { connected: false, message: this.#lastError.message } : { connected: true };
  }

  /** Tries to connect and reports the outcome without throwing. */
  async check(): Promise<{ connected: boolean; message?: string }> {
    try {
      await this.get();
      return { connected: true };
    } catch (e) {
      return { connected: false, message: (e as Error).message };
    }
  }

  #unavailable(e: Error): Error {
    if (e instanceof VCenterUnreachableError) return new Unavailable('vcenter_unreachable', `${e.message}. ${e.hint}`, e);
    return e;
  }

  async close(): Promise<void> {
    const vs = await this.#vs?.catch(() => undefined);
    this.#vs = undefined;
    await vs?.close();
  }
}
