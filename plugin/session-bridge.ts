// Turns the vSphere Client's plugin session token into a vCenter session of that user: vCenter's
// /api/ui/vcenter/session/clone-ticket trades the token for a one-time clone ticket, and
// SessionManager.CloneSession redeems it (both steps in VSphere.fromUiSessionToken, over the same
// thumbprint-pinned TLS as the service's own connection). Sessions are cached per token by the
// API's Auth, which logs them out when they are evicted.
import { VSphere } from '../backend/vsphere/index.ts';
import type { Config } from '../backend/config.ts';

export async function sessionFromPluginToken(vcenter: Config['vcenter'], token: string): Promise<{ vs: VSphere; username: string }> {
  const vs = await VSphere.fromUiSessionToken({
    url: vcenter.url, sessionToken: token, wsdl: vcenter.wsdl, ...(vcenter.thumbprint ? { thumbprint: vcenter.thumbprint } : {}),
  });
  const who = await vs.session.currentSession();
  return { vs, username: who?.userName ?? 'unknown' };
}
