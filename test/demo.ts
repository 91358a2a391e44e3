// `npm run demo`: a lab vCenter (govmomi's simulator with real disk images) and the Stillpoint
// service configured against it, with the dev host that plays the vSphere Client. No configuration.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab } from './lab/lab.ts';
import { loadConfig } from '../backend/config.ts';
import { startService } from '../backend/service.ts';
import { registerPlugin } from '../plugin/registration.ts';
import { ensureUiBuilt } from './helpers/ui-build.ts';
import { cliConfigPath, readCliConfig, removeCliConfig, writeCliConfig } from '../backend/cli/cli-config.ts';
import { ServiceClient } from '../backend/cli/service-client.ts';

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
// The CLI works with no set-up: it finds this service in its config file and is logged in (the
// session is sealed in the demo's data folder). A config file the user wrote is left alone.
const ca = join(dataDir, 'tls', 'server.crt');
const root = join(import.meta.dirname, '..');
const launcher = join(root, 'bin', 'stillpoint.mjs');
let cliSetUp = '';
let existing: ReturnType<typeof readCliConfig>;
try { existing = readCliConfig(); } catch { existing = { url: '', writtenBy: 'someone else' }; }
if (!existing || existing.writtenBy === 'npm run demo') {
  writeCliConfig({ url: service.url, ca, dataDir, writtenBy: 'npm run demo' });
  await new ServiceClient({ url: service.url, dataDir, ca: readFileSync(ca, 'utf8') }).login(lab.username, lab.password);
  cliSetUp = `set up in ${cliConfigPath()}, logged in as ${lab.username}`;
} else {
  cliSetUp = `${cliConfigPath()} is yours, so set STILLPOINT_URL and STILLPOINT_CA as below and run \`stillpoint login --user ${lab.username}\``;
}
process.stdout.write(`
Stillpoint demo is up.

  vSphere Client stand-in:  ${service.url}/devhost/
  Standalone UI:            ${service.url}/ui/
  API (OpenAPI):            ${service.url}/api/openapi.json
  Lab vCenter:              ${lab.sdkUrl} (thumbprint ${lab.thumbprint})
  Log in with:              ${lab.username} / ${lab.password}
  Data folder:              ${dataDir}

Command line (${cliSetUp}), in another terminal:
  alias stillpoint='${launcher}'   # or \`npx stillpoint …\` inside ${root}
  stillpoint vms
  stillpoint backup <vm name>
  stillpoint --help                # every command has --help with examples
  From another account or machine: STILLPOINT_URL=${service.url} STILLPOINT_CA=${ca}

The server certificate is self-signed (${ca}). Ctrl-C stops everything.
`);
const stop = async () => {
  await service.close().catch(() => undefined);
  await lab.stop().catch(() => undefined);
  try { if (readCliConfig()?.dataDir === dataDir) removeCliConfig(); } catch { /* not ours */ }
  if (ownDataDir) rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
