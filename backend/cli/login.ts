// `stillpoint login [--user U]`: log in to the service with vCenter credentials; the password comes
// from STILLPOINT_PASSWORD or a prompt that does not echo.
import { option } from './format.ts';
import { ServiceClient } from './service-client.ts';
import { promptSecret } from './prompt.ts';

export async function run(args: string[]): Promise<number> {
  try {
    const user = option(args, '--user') ?? process.env.STILLPOINT_USER;
    if (!user) throw new Error('give --user <vCenter user> (or set STILLPOINT_USER)');
    const password = process.env.STILLPOINT_PASSWORD ?? (await promptSecret(`Password for ${user}: `));
    const r = await new ServiceClient().login(user, password);
    process.stdout.write(`Logged in as ${r.username}.\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`stillpoint login: ${(e as Error).message}\n`);
    return 1;
  }
}
