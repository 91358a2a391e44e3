// `npm run demo`: a lab vCenter (govmomi's simulator with real disk images) and the Stillpoint
// service configured against it, with the dev host that plays the vSphere Client. No configuration.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from './lab/lab.ts';
import { loadConfig } from '../backend/config.ts';
import { startService } from '../backend/service.ts';

const port = Number(process.env.STILLPOINT_PORT ?? 8443);
process.stdout.write('Starting the lab vCenter…\n');
const lab = await startLab();
const dataDir = process.env.STILLPOINT_DATA_DIR ?? mkdtempSync(join(tmpdir(), 'stillpoint-demo-'));
const config = loadConfig({}, {
  dataDir,
  listen: { host: '127.0.0.1', port },
  vcenter: { url: lab.url, username: lab.username, password: lab.password, thumbprint: lab.thumbprint, wsdl: 'builtin' },
  devHost: true,
});
const service = await startService(config);
process.stdout.write(`
Stillpoint demo is up.

  vSphere Client stand-in:  ${service.url}/devhost/
  Standalone UI:            ${service.url}/ui/
  API (OpenAPI):            ${service.url}/api/openapi.json
  Lab vCenter:              ${lab.url} (thumbprint ${lab.thumbprint})
  Log in with:              ${lab.username} / ${lab.password}
  Data folder:              ${dataDir}

The server certificate is self-signed (${join(dataDir, 'tls', 'server.crt')}). Ctrl-C stops everything.
`);
const stop = async () => {
  await service.close().catch(() => undefined);
  await lab.stop().catch(() => undefined);
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
