// `stillpoint ad …`: Active Directory objects straight from an ntds.dit file (no DC, no esent.dll).
import { FsError } from '../filesystems/types.ts';
import { openEseDatabase } from '../ese/database.ts';
import { openFileReader } from '../ese/file-reader.ts';
import { openActiveDirectory, type ActiveDirectory, type AdObjectSummary, type AdSearch } from '../active-directory/directory.ts';
import { readFileSync } from 'node:fs';
import { compareWithLive, objectsOf, type AdComparison } from '../active-directory/compare.ts';
import { exportLdif } from '../active-directory/ldif.ts';
import { connectLive, LiveDirectoryError, type LiveTarget } from '../active-directory/live.ts';
import { restoreObjects, type AdRestoreOptions, type PasswordOption, type RestoreSources } from '../active-directory/restore.ts';
import { readSecurityDescriptors } from '../active-directory/sd-table.ts';
import { progressBar } from './progress.ts';
import { count } from '../common/units.ts';

const USAGE = `usage: stillpoint ad <command> FILE [ARG] [options]

commands:
  ls FILE [DN]            the children of DN (the naming contexts when DN is left out)
  find FILE [TEXT]        objects whose name, sAMAccountName, displayName or UPN contains TEXT
  show FILE DN|GUID       one object with all its attributes, decoded by syntax (SIDs, GUIDs, times,
                          DNs), member from link_table and memberOf derived from it
  recycle-bin FILE        whether the AD Recycle Bin is on
  ldif FILE DN|GUID       LDIF export of the object (--subtree: and everything under it); secrets never
  compare FILE DN|GUID    compare with a live DC over LDAPS (--dc, --user): changed attributes, deleted
                          objects, memberships removed (--subtree for everything under it)
  restore FILE DN|GUID…   restore into a live DC over LDAPS with your own account: a deleted object is
                          reanimated (same objectGUID and objectSid) or recreated; attributes and group
                          memberships put back

options:
  --json                  JSON (every answer carries the database's consistency)
  --deleted               include deleted objects (ls, find)
  --class NAME            find: objects of this objectClass (user, group, organizationalUnit …)
  --sam NAME              find: this sAMAccountName
  --attr NAME=VALUE       find: this attribute has this value (VALUE * = has the attribute)
  --base DN               find: only under DN
  --limit N               at most N objects (default 1000)
  --subtree               ldif, compare, restore: the object and everything under it
  --importable            ldif: only attributes a DC accepts on add, with changetype: add

live DC (compare, restore):
  --dc URL                ldaps://dc01.corp.example:636 (LDAPS only)
  --user NAME             your directory account (user@corp.example, CORP\\user or a DN)
  --password-env VAR      the environment variable holding its password (default STILLPOINT_AD_PASSWORD);
                          a password is never taken on the command line
  --ca FILE               PEM of the CA that issued the DC's certificate
  --server-name NAME      the name the DC's certificate carries, when --dc holds an address

restore options:
  --attributes A,B        only these attributes (default: every restorable one)
  --no-memberships        leave group memberships as they are
  --new-password-env VAR  set this new password (from the environment) on restored users
  --must-change           users must change their password at next logon
  --enable | --disable    the restored accounts' state (default: as in the backup)
  --target DN             the container to restore into (default: where each object was)
  --no-recreate           never create an object anew (only reanimate or update)
  --permissions           write back the owner, group and explicit ACEs of each object's security
                          descriptor (default: for reanimated and recreated objects, when they differ)
  --no-permissions        leave the DC's security descriptors as they are

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
  stillpoint ad ldif ntds.dit "OU=Sales,DC=corp,DC=example" --subtree > sales.ldif
  STILLPOINT_AD_PASSWORD=… stillpoint ad compare ntds.dit "OU=Sales,DC=corp,DC=example" --subtree \\
    --dc ldaps://dc01.corp.example --user admin@corp.example
  STILLPOINT_AD_PASSWORD=… stillpoint ad restore ntds.dit "CN=Alice Martin,OU=Sales,DC=corp,DC=example" \\
    --dc ldaps://dc01.corp.example --user admin@corp.example --must-change --enable
`;

function line(o: AdObjectSummary): string {
  const cls = o.objectClass[0] ?? '?';
  const extra = [o.sAMAccountName && `sam=${o.sAMAccountName}`, o.deleted && 'DELETED', o.lastKnownParent && `was in ${o.lastKnownParent}`].filter(Boolean).join('  ');
  return `${o.hasChildren ? '+' : ' '} ${cls.padEnd(20)} ${o.dn}${extra ? `  ${extra}` : ''}\n`;
}

export async function run(args: string[]): Promise<number> {
  const pos: string[] = [];
  let json = false, deleted = false, limit = 1000, subtree = false, importable = false;
  const q: AdSearch = {};
  const liveOpts: { dc?: string; user?: string; passwordEnv: string; ca?: string; serverName?: string } = { passwordEnv: 'STILLPOINT_AD_PASSWORD' };
  const restoreOpts: AdRestoreOptions = {};
  let newPasswordEnv: string | undefined, mustChange = false;
  const need = (i: number, opt: string) => { if (args[i] === undefined) throw new UsageError(`${opt} needs a value`); return args[i]; };
  try {
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (a === '--help' || a === '-h') { process.stdout.write(USAGE); return 0; }
      if (a === '--json') json = true;
      else if (a === '--deleted') deleted = true;
      else if (a === '--subtree') subtree = true;
      else if (a === '--importable') importable = true;
      else if (a === '--dc') liveOpts.dc = need(++i, a);
      else if (a === '--user') liveOpts.user = need(++i, a);
      else if (a === '--password-env') liveOpts.passwordEnv = need(++i, a);
      else if (a === '--ca') liveOpts.ca = need(++i, a);
      else if (a === '--server-name') liveOpts.serverName = need(++i, a);
      else if (a === '--attributes') restoreOpts.attributes = need(++i, a).split(',').map((x) => x.trim()).filter(Boolean);
      else if (a === '--no-memberships') restoreOpts.memberships = false;
      else if (a === '--new-password-env') newPasswordEnv = need(++i, a);
      else if (a === '--must-change') mustChange = true;
      else if (a === '--enable') restoreOpts.accountState = 'enabled';
      else if (a === '--disable') restoreOpts.accountState = 'disabled';
      else if (a === '--target') restoreOpts.targetContainer = need(++i, a);
      else if (a === '--no-recreate') restoreOpts.recreate = false;
      else if (a === '--permissions') restoreOpts.permissions = true;
      else if (a === '--no-permissions') restoreOpts.permissions = false;
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
  const cmds = ['ls', 'find', 'show', 'recycle-bin', 'ldif', 'compare', 'restore'];
  if (!cmd || !cmds.includes(cmd) || !file || (['show', 'ldif', 'compare', 'restore'].includes(cmd) && !arg)) {
    process.stderr.write(cmd && !cmds.includes(cmd) ? `stillpoint ad: unknown command '${cmd}'\n\n${USAGE}` : USAGE);
    return 2;
  }
  let reader;
  try { reader = openFileReader(file); } catch (e) {
    process.stderr.write(`stillpoint ad: cannot open ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const db = await openEseDatabase(reader);
    const ad = await openActiveDirectory(db);
    if (ad.consistency.state === 'dirty' && !json) process.stderr.write(`stillpoint ad: warning: ${file} is ${ad.consistency.detail}\n`);
    const out = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
    if (cmd === 'ls') {
      const a = arg ? await ad.children(arg, { includeDeleted: deleted, limit }) : await ad.roots();
      if (json) out(a); else for (const o of a.result) process.stdout.write(line(o));
    } else if (cmd === 'find') {
      const a = await ad.search({ ...q, text: arg, includeDeleted: deleted, limit });
      if (json) out(a); else { for (const o of a.result) process.stdout.write(line(o)); process.stdout.write(`${count(a.result.length, 'object')}\n`); }
    } else if (cmd === 'ldif') {
      process.stdout.write(await exportLdif(ad, await objectsOf(ad, arg, subtree), { importable }));
    } else if (cmd === 'compare' || cmd === 'restore') {
      const target = liveTarget(liveOpts);
      if (typeof target === 'string') { process.stderr.write(`stillpoint ad: ${target}\n\n${USAGE}`); return 2; }
      if (cmd === 'compare') return await compareCommand(ad, target, arg, subtree, json);
      const password: PasswordOption = newPasswordEnv !== undefined
        ? { mode: 'new', value: process.env[newPasswordEnv] ?? '', ...(mustChange ? { mustChange: true } : {}) }
        : mustChange ? { mode: 'must-change' } : { mode: 'none' };
      if (password.mode === 'new' && !password.value) { process.stderr.write(`stillpoint ad: --new-password-env ${newPasswordEnv}: that variable is empty or not set\n`); return 2; }
      return await restoreCommand(ad, target, pos.slice(2), subtree, { ...restoreOpts, password }, json, { securityDescriptors: await readSecurityDescriptors(db) });
    } else if (cmd === 'recycle-bin') {
      const a = await ad.recycleBin();
      if (json) out(a); else process.stdout.write(a.result.enabled ? `on (enabled on ${a.result.enabledOn.join('; ')})\n` : 'off\n');
    } else {
      const a = await ad.get(/^\d+$/.test(arg) ? Number(arg) : arg);
      if (json) out(a);
      else {
        const o = a.result;
        process.stdout.write(`dn: ${o.dn}\n`);
        if (o.deleted) process.stdout.write(`# deleted${o.recycled ? ' and recycled' : ''}${o.lastKnownParent ? `, last known parent ${o.lastKnownParent}` : ''}\n`);
        for (const [k, v] of Object.entries(o.attributes).sort(([x], [y]) => x.localeCompare(y))) {
          for (const x of Array.isArray(v) ? v : [v]) process.stdout.write(`${k}: ${String(x).replace(/\n/g, '\\n')}\n`);
        }
        if (o.withheld.length) process.stdout.write(`# withheld (secrets, never shown): ${o.withheld.join(', ')}\n`);
        if (o.problems.length) process.stdout.write(`# ${count(o.problems.length, 'value')} not decoded: ${o.problems.slice(0, 5).map((p) => `${p.column}: ${p.error}`).join('; ')}\n`);
      }
    }
    return 0;
  } catch (e) {
    if (e instanceof FsError) { process.stderr.write(`stillpoint ad: ${file}: ${e.message}\n`); return 1; }
    if (e instanceof LiveDirectoryError) { process.stderr.write(`stillpoint ad: ${e.message}\n`); return e.kind === 'rights' ? 4 : 1; }
    throw e;
  } finally {
    reader.close();
  }
}

class UsageError extends Error {}

function liveTarget(o: { dc?: string; user?: string; passwordEnv: string; ca?: string; serverName?: string }): LiveTarget | string {
  if (!o.dc || !o.user) return 'compare and restore need --dc ldaps://… and --user NAME';
  const password = process.env[o.passwordEnv];
  if (!password) return `no password: set it in the environment variable ${o.passwordEnv} (or name another with --password-env)`;
  return {
    url: o.dc, username: o.user, password,
    ...(o.ca ? { caPem: readFileSync(o.ca, 'utf8') } : {}), ...(o.serverName ? { serverName: o.serverName } : {}),
  };
}

async function compareCommand(ad: ActiveDirectory, target: LiveTarget, ref: string, subtree: boolean, json: boolean): Promise<number> {
  const live = await connectLive(target);
  let c: AdComparison;
  const bar = progressBar('comparing', { unit: 'count' });
  try { c = await compareWithLive(ad, live, ref, { subtree, onProgress: (d, t) => bar.update(d, t) }); } finally { bar.done(); await live.close(); }
  if (json) { process.stdout.write(JSON.stringify(c, null, 2) + '\n'); return 0; }
  for (const o of c.objects) {
    if (o.status === 'unchanged') continue;
    process.stdout.write(`${o.status.toUpperCase().padEnd(9)} ${o.dn}${o.moved ? `  (now ${o.liveDn})` : ''}${o.status === 'deleted' ? `  (tombstone ${o.liveDn})` : ''}\n`);
    for (const a of o.attributes) process.stdout.write(`  ${a.name}: backup ${JSON.stringify(a.backup)}, live ${JSON.stringify(a.live)}\n`);
    for (const g of o.memberOf.removed) process.stdout.write(`  no longer member of ${g}\n`);
    for (const g of o.memberOf.added) process.stdout.write(`  now member of ${g}\n`);
    for (const m of o.members.removed) process.stdout.write(`  member removed: ${m}\n`);
    for (const m of o.members.added) process.stdout.write(`  member added: ${m}\n`);
  }
  const s = c.summary;
  process.stdout.write(`${count(c.objects.length, 'object')}: ${s.unchanged} unchanged, ${s.changed} changed, ${s.deleted} deleted, ${s.missing} missing\n`);
  return 0;
}

async function restoreCommand(ad: ActiveDirectory, target: LiveTarget, refs: string[], subtree: boolean, options: AdRestoreOptions, json: boolean, sources: RestoreSources): Promise<number> {
  const all = [...new Set((await Promise.all(refs.map((r) => objectsOf(ad, r, subtree)))).flat())];
  const live = await connectLive(target);
  const bar = progressBar('restoring', { unit: 'count' });
  let r;
  try { r = await restoreObjects(ad, live, all, options, (d, t) => bar.update(d, t), sources); } finally { bar.done(); await live.close(); }
  if (json) { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); return r.withProblems ? 3 : 0; }
  for (const o of r.results) {
    const how = o.reanimatedFrom === 'recycle-bin' ? 'from the Recycle Bin' : o.reanimatedFrom === 'tombstone' ? 'from a tombstone (Recycle Bin off)' : '';
    process.stdout.write(`${o.action.padEnd(11)} ${o.liveDn}${o.action === 'reanimated' ? `  ${how}, objectGUID ${o.liveObjectGUID}, objectSid ${o.liveObjectSid}` : ''}\n`);
    if (o.permissions.status === 'restored') process.stdout.write(`  permissions: ${o.permissions.changes.join('; ')}\n`);
    if (o.attributesWritten.length) process.stdout.write(`  attributes: ${o.attributesWritten.join(', ')}\n`);
    for (const g of o.groupsAdded) process.stdout.write(`  member of ${g} again\n`);
    for (const m of o.membersAdded) process.stdout.write(`  member ${m} added back\n`);
    if (o.password !== 'unchanged') process.stdout.write(`  password: ${o.password}\n`);
    for (const p of o.problems) process.stdout.write(`  problem: ${p}\n`);
  }
  process.stdout.write(`${count(r.restored, 'object')} restored${r.withProblems ? `, ${r.withProblems} with problems` : ''}\n`);
  return r.withProblems ? 3 : 0;
}
