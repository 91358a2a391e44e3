// `stillpoint login [--user U]`: log in to the service with vCenter credentials; the password comes
// from STILLPOINT_PASSWORD or a prompt that does not echo.
import { option } from './format.ts';
import { showHelp, wantsHelp, type Help } from './help.ts';
import { ServiceClient } from './service-client.ts';
import { promptSecret } from './prompt.ts';

export const help: Help = {
  usage: ['stillpoint login [--user <vCenter user>]'],
  summary: 'Log in to the Stillpoint service with your vCenter credentials. The session is kept sealed in the\n' +
    'data folder, so later commands need no password; it ends when the service restarts.',
  options: [
    ['--user U', 'the vCenter user (default: STILLPOINT_USER)'],
  ],
  notes: 'The password is asked on the terminal without echo, or taken from STILLPOINT_PASSWORD (scripts, pipes).\n' +
    'With STILLPOINT_USER and STILLPOINT_PASSWORD set, every command logs in by itself and `login` is not needed.\n' +
    'The service is STILLPOINT_URL (trusting STILLPOINT_CA), else the one in ~/.config/stillpoint/cli.json\n' +
    '(written by `npm run demo`), else https://127.0.0.1:8443.',
  examples: [
    'stillpoint login --user administrator@vsphere.local',
    'STILLPOINT_PASSWORD="$(cat ~/.vc-pass)" stillpoint login --user svc-backup@vsphere.local',
  ],
};

export async function run(args: string[]): Promise<number> {
  if (wantsHelp(args)) return showHelp(help);
  try {
    const user = option(args, '--user') ?? process.env.STILLPOINT_USER;
    if (args.length) throw new Error(`unexpected '${args[0]}' (see \`stillpoint login --help\`)`);
    if (!user) throw new Error('give --user <vCenter user> (or set STILLPOINT_USER)');
    const password = process.env.STILLPOINT_PASSWORD ?? (await promptSecret(`Password for ${user}: `, 'STILLPOINT_PASSWORD'));
    const r = await new ServiceClient().login(user, password);
    process.stdout.write(`Logged in as ${r.username}.\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint login: ${(e as Error).message}\n`);
    return 1;
  }
}
