// The `stillpoint` command. Each command family lives in its own module and exports `run(args)`,
// which returns the process exit code. Families that talk to the service read STILLPOINT_URL
// (default https://127.0.0.1:8443); `repo` works on a repository folder directly.
import module from 'node:module';

// Keeps compiled (and type-stripped) modules on disk between runs: halves the start-up of a command.
module.enableCompileCache?.();

const families: Record<string, { summary: string; load: (args: string[]) => Promise<{ run(args: string[]): Promise<number> }> }> = {
  login: { summary: 'log in to the Stillpoint service with vCenter credentials', load: () => import('./login.ts') },
  vms: { summary: 'list the VMs in vCenter with their protection state', load: () => import('./vms.ts') },
  backup: { summary: 'back up VMs now and follow the progress', load: () => import('./backup.ts') },
  points: { summary: 'list the restore points of a VM with their consistency', load: () => import('./points.ts') },
  restore: { summary: 'restore a VM from a restore point (to a new VM or over the original)', load: () => import('./restore.ts') },
  replicate: { summary: 'replicate a VM to the DR site now (creates its replica the first time)', load: () => import('./replicate.ts') },
  replicas: { summary: 'list replicas: source, state, last sync, recovery points', load: async () => ({ run: (await import('./replicate.ts')).listReplicas }) },
  failover: { summary: 'fail a replica over (or --test, --planned, --undo, --permanent) at the DR site', load: () => import('./failover.ts') },
  failback: { summary: 'fail a replica back to its original VM (only its changes), then --commit or --undo', load: async () => ({ run: (await import('./failover.ts')).failback }) },
  transporter: { summary: 'pair transporters and run one on a DR helper VM (hot-add replication)', load: () => import('./transporter.ts') },
  jobs: { summary: 'list, create, run and delete backup jobs', load: () => import('./jobs.ts') },
  runs: { summary: 'list runs, show one with its results, follow one again', load: () => import('./runs.ts') },
  plugin: { summary: 'register, update, unregister the vSphere Client plugin in vCenter', load: () => import('./plugin.ts') },
  repo: {
    summary: 'use a backup repository folder directly (init, backup, restore, ls, verify, prune, stats)',
    // `repo ls` alone: what admins and scripts run most starts without the other repo commands' modules.
    load: (args) => (args[0] === 'ls' && !args.some((a) => a === '--help' || a === '-h') ? import('./repo-ls.ts') : import('./repo.ts')),
  },
  files: { summary: 'browse, search and download files inside a restore point (file-level restore)', load: () => import('./files.ts') },
  ese: { summary: 'read an ESE database file (ntds.dit, Exchange .edb): state, tables, rows', load: () => import('./ese.ts') },
  ad: { summary: 'Active Directory objects from an ntds.dit file: ls, find, show (secrets never shown)', load: () => import('./ad.ts') },
  exchange: { summary: 'Exchange mail items from a mailbox database (.edb): ls, find, show, export EML/MSG/zip, restore over IMAP, send', load: () => import('./exchange.ts') },
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const family = name ? families[name] : undefined;
  if (!family) {
    const lines = Object.entries(families).map(([k, v]) => `  ${k.padEnd(10)} ${v.summary}`);
    const out = `usage: stillpoint <command> [options]\n\ncommands:\n${lines.join('\n')}\n\n` +
      '`stillpoint <command> --help` shows its options and examples. Commands reach the service at STILLPOINT_URL\n' +
      '(trusting STILLPOINT_CA), else the one in ~/.config/stillpoint/cli.json (`npm run demo` writes it), else\n' +
      'https://127.0.0.1:8443; `repo` works on a repository folder directly.\n\n' +
      'examples:\n  stillpoint login --user administrator@vsphere.local\n  stillpoint vms\n  stillpoint backup win-app01\n' +
      '  stillpoint points win-app01\n  stillpoint jobs create --help\n';
    if (name && name !== 'help' && name !== '--help' && name !== '-h') {
      process.stderr.write(`stillpoint: unknown command '${name}'\n\n${out}`);
      return 2;
    }
    process.stdout.write(out);
    return 0;
  }
  return (await family.load(rest)).run(rest);
}

// Every command settles its promise (the service going away included): an error that escapes one
// still ends the process with a message and a non-zero code.
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`stillpoint: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
