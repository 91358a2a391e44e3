// `npm start`: runs the Stillpoint service with the configuration from the data folder and the
// environment (see backend/config.ts).
import { loadConfig } from './config.ts';
import { log } from './common/log.ts';
import { startService } from './service.ts';

try {
  const config = loadConfig();
  if (!config.vcenter.url) {
    throw new Error(`No vCenter configured: set STILLPOINT_VCENTER_URL (and _USER + _PASSWORD or _CLONE_TICKET, and _THUMBPRINT), or write them into ${config.dataDir}/config.json. For a lab vCenter with everything set up, run \`npm run demo\`.`);
  }
  const service = await startService(config);
  log.info({ url: service.url }, 'Stillpoint service is listening');
  process.stdout.write(`Stillpoint is running at ${service.url}/ (manifest ${service.url}/plugin.json)\n`);
  const stop = () => { void service.close().finally(() => process.exit(0)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (e) {
  process.stderr.write(`stillpoint: ${(e as Error).message}\n`);
  process.exit(1);
}
