// `npm run demo`: a lab vCenter (govmomi's simulator with real disk images) and the Stillpoint
// service configured against it, with the dev host that plays the vSphere Client. No configuration.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from './lab/lab.ts';
import { loadConfig } from '../backend/config.ts';
import { startService } from '../backend/service.ts';
import { registerPlugin } from '../plugin/registration.ts';
import { ensureUiBuilt } from './helpers/ui-build.ts';

const port = Number(process.env.STILLPOINT_PORT ?? 8443);
ensureUiBuilt();
process.stdout.write('Starting the lab vCenter…\n');
const lab = await startLab();
const ownDataDir = !process.env.STILLPOINT_DATA_DIR;
const dataDir = process.env.STILLPOINT_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'stillpoint-demo-'));
const config = loadConfig({}, {
  dataDir,
  listen: { host: '127.0.0.1', port },
  vcenter: { url: lab.sdkUrl, username: lab.username, password: lab.password, thumbprint: lab.thumbprint, wsdl: 'builtin' },
  devHost: true,
});
const service = await startService(config, { devHostUiSession: (u, p) => lab.control.uiSessionToken(u, p) });
// Register the plugin like an admin would, so backups show as vCenter tasks.
await registerPlugin({ url: lab.sdkUrl, username: lab.username, password: lab.password, thumbprint: lab.thumbprint },
  { manifestUrl: `${service.url}/plugin.json`, serverThumbprint: service.thumbprint, version: '1.0.0.0' });
process.stdout.write(`
Stillpoint demo is up.

  vSphere Client stand-in:  ${service.url}/devhost/
  Standalone UI:            ${service.url}/ui/
  API (OpenAPI):            ${service.url}/api/openapi.json
  Lab vCenter:              ${lab.sdkUrl} (thumbprint ${lab.thumbprint})
  Log in with:              ${lab.username} / ${lab.password}
  Data folder:              ${dataDir}

The server certificate is self-signed (${join(dataDir, 'tls', 'server.crt')}). Ctrl-C stops everything.
`);
const stop = async () => {
  await service.close().catch(() => undefined);
  await lab.stop().catch(() => undefined);
  if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
