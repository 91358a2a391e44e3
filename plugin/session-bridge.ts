// Turns the vSphere Client's plugin session token into a vCenter session of that user: vCenter's
// /api/ui/vcenter/session/clone-ticket trades the token for a one-time clone ticket, and
// SessionManager.CloneSession redeems it (both steps in VSphere.fromUiSessionToken, over the same
// thumbprint-pinned TLS as the service's own connection). Sessions are cached per token by the
// API's Auth, which logs them out when they are evicted; refused tokens are limited and remembered
// there too.
import { PinnedAgent, VSphere } from '../backend/vsphere/index.ts';
import type { Config } from '../backend/config.ts';

export async function sessionFromPluginToken(vcenter: Config['vcenter'], token: string): Promise<{ vs: VSphere; username: string }> {
  // The connection pool is ours until a session exists: a token vCenter refuses must not leave its
  // keep-alive connection to vCenter behind (one per forged token, open until vCenter drops it).
  const tls = vcenter.thumbprint ? { thumbprint: vcenter.thumbprint } : {};
  const agent = new PinnedAgent(tls);
  let vs: VSphere;
  try {
    vs = await VSphere.fromUiSessionToken({ url: vcenter.url, sessionToken: token, wsdl: vcenter.wsdl, agent, ...tls });
  } catch (e) {
    agent.destroy();
    throw e;
  }
  const who = await vs.session.currentSession().catch(async (e: unknown) => { await vs.close(); throw e; });
  return { vs, username: who?.userName ?? 'unknown' };
}
