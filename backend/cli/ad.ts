// `stillpoint ad …`: Active Directory objects straight from an ntds.dit file (no DC, no esent.dll).
import { FsError } from '../filesystems/types.ts';
import { openEseDatabase } from '../ese/database.ts';
import { openFileReader } from '../ese/file-reader.ts';
import { openActiveDirectory, type AdObjectSummary, type AdSearch } from '../active-directory/directory.ts';

const USAGE = `usage: stillpoint ad <command> FILE [ARG] [options]

commands:
  ls FILE [DN]            the children of DN (the naming contexts when DN is left out)
  find FILE [TEXT]        objects whose name, sAMAccountName, displayName or UPN contains TEXT
  show FILE DN|GUID       one object with all its attributes, decoded by syntax (SIDs, GUIDs, times,
                          DNs), member from link_table and memberOf derived from it
  recycle-bin FILE        whether the AD Recycle Bin is on

options:
  --json                  JSON (every answer carries the database's consistency)
  --deleted               include deleted objects (ls, find)
  --class NAME            find: objects of this objectClass (user, group, organizationalUnit …)
  --sam NAME              find: this sAMAccountName
  --attr NAME=VALUE       find: this attribute has this value (VALUE * = has the attribute)
  --base DN               find: only under DN
  --limit N               at most N objects (default 1000)

The file is read as it stands, without log replay: a dirty ntds.dit (the normal case in a VSS snapshot
of a live domain controller) may lack its latest changes, and every answer says so. Password hashes and
other secrets (unicodePwd, supplementalCredentials, pekList, trust secrets…) and confidential attributes
are never shown: show lists their names under "withheld".

examples:
  stillpoint ad ls ntds.dit
  stillpoint ad ls ntds.dit "OU=Sales,DC=corp,DC=example"
  stillpoint ad find ntds.dit martin --class user
  stillpoint ad find ntds.dit --deleted --sam jdoe --json
  stillpoint ad show ntds.dit "CN=Alice Martin,OU=Sales,DC=corp,DC=example"
`;

function line(o: AdObjectSummary): string {
  const cls = o.objectClass[0] ?? '?';
  const extra = [o.sAMAccountName && `sam=${o.sAMAccountName}`, o.deleted && 'DELETED', o.lastKnownParent && `was in ${o.lastKnownParent}`].filter(Boolean).join('  ');
  return `${o.hasChildren ? '+' : ' '} ${cls.padEnd(20)} ${o.dn}${extra ? `  ${extra}` : ''}\n`;
}

export async function run(args: string[]): Promise<number> {
  const pos: string[] = [];
  let json = false, deleted = false, limit = 1000;
  const q: AdSearch = {};
  const need = (i: number, opt: string) => { if (args[i] === undefined) throw new UsageError(`${opt} needs a value`); return args[i]; };
  try {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === '--help' || a === '-h') { process.stdout.write(USAGE); return 0; }
      if (a === '--json') json = true;
      else if (a === '--deleted') deleted = true;
      else if (a === '--class') q.objectClass = need(++i, a);
      else if (a === '--sam') q.sAMAccountName = need(++i, a);
      else if (a === '--base') q.base = need(++i, a);
      else if (a === '--attr') {
        const v = need(++i, a), eq = v.indexOf('=');
        if (eq < 1) throw new UsageError(`--attr takes NAME=VALUE, got '${v}'`);
        q.attribute = { name: v.slice(0, eq), value: v.slice(eq + 1) };
      } else if (a === '--limit') {
        limit = Number(need(++i, a));
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit needs a whole number above 0`);
      } else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
      else pos.push(a);
    }
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`stillpoint ad: ${e.message}\n\n${USAGE}`); return 2; }
    throw e;
  }
  const [cmd, file, arg] = pos;
  const cmds = ['ls', 'find', 'show', 'recycle-bin'];
  if (!cmd || !cmds.includes(cmd) || !file || (cmd === 'show' && !arg)) {
    process.stderr.write(cmd && !cmds.includes(cmd) ? `stillpoint ad: unknown command '${cmd}'\n\n${USAGE}` : USAGE);
    return 2;
  }
  let reader;
  try { reader = openFileReader(file); } catch (e) {
    process.stderr.write(`stillpoint ad: cannot open ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const ad = await openActiveDirectory(await openEseDatabase(reader));
    if (ad.consistency.state === 'dirty' && !json) process.stderr.write(`stillpoint ad: warning: ${file} is ${ad.consistency.detail}\n`);
    const out = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
    if (cmd === 'ls') {
      const a = arg ? ad.children(arg, { includeDeleted: deleted, limit }) : ad.roots();
      if (json) out(a); else for (const o of a.result) process.stdout.write(line(o));
    } else if (cmd === 'find') {
      const a = ad.search({ ...q, text: arg, includeDeleted: deleted, limit });
      if (json) out(a); else { for (const o of a.result) process.stdout.write(line(o)); process.stdout.write(`${a.result.length} object(s)\n`); }
    } else if (cmd === 'recycle-bin') {
      const a = ad.recycleBin();
      if (json) out(a); else process.stdout.write(a.result.enabled ? `on (enabled on ${a.result.enabledOn.join('; ')})\n` : 'off\n');
    } else {
      const a = ad.get(/^\d+$/.test(arg) ? Number(arg) : arg);
      if (json) out(a);
      else {
        const o = a.result;
        process.stdout.write(`dn: ${o.dn}\n`);
        if (o.deleted) process.stdout.write(`# deleted${o.recycled ? ' and recycled' : ''}${o.lastKnownParent ? `, last known parent ${o.lastKnownParent}` : ''}\n`);
        for (const [k, v] of Object.entries(o.attributes).sort(([x], [y]) => x.localeCompare(y))) {
          for (const x of Array.isArray(v) ? v : [v]) process.stdout.write(`${k}: ${String(x).replace(/\n/g, '\\n')}\n`);
        }
        if (o.withheld.length) process.stdout.write(`# withheld (secrets, never shown): ${o.withheld.join(', ')}\n`);
        if (o.problems.length) process.stdout.write(`# ${o.problems.length} value(s) not decoded: ${o.problems.slice(0, 5).map((p) => `${p.column}: ${p.error}`).join('; ')}\n`);
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof FsError) { process.stderr.write(`stillpoint ad: ${file}: ${e.message}\n`); return 1; }
    throw e;
  } finally {
    reader.close();
  }
}

class UsageError extends Error {}
