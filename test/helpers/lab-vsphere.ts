// A vSphere session on the lab vCenter as its administrator, thumbprint-pinned like the service's.
import { VSphere } from '../../backend/vsphere/index.ts';
import type { Lab } from '../lab/lab.ts';

export function connectToLab(lab: Lab, extra: Record<string, unknown> = {}): Promise<VSphere> {
  return VSphere.connect({ url: lab.sdkUrl, thumbprint: lab.thumbprint, username: lab.username, password: lab.password, ...extra });
}
