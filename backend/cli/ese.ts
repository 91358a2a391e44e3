// `stillpoint ese …`: read an ESE (JET Blue) database file directly: ntds.dit, Exchange .edb, SRUDB.dat.
import { FsError } from '../filesystems/types.ts';
import { openEseDatabase, type EseDatabase, type EseInfo } from '../ese/database.ts';
import { openFileReader } from '../ese/file-reader.ts';
import { EseDateTime, type EseValue } from '../ese/values.ts';

const USAGE = `usage: stillpoint ese <command> FILE [TABLE] [options]

commands:
  info FILE               state (clean or dirty shutdown), log generations a dirty file still needs,
                          format version and revision, page size, header checksums
  tables FILE             tables with their columns (id, name, type, kind)
  dump FILE [TABLE]       rows as JSON lines (all tables when TABLE is left out)

options:
  --json                  info and tables as JSON (dump is always JSON lines)
  --limit N               at most N rows per table
  --no-checksums          read pages whose checksum fails instead of stopping there

The file is read as it stands, without log replay: a dirty database (the normal case in a VSS snapshot
of a live domain controller or Exchange server) may lack its latest changes, and every answer says so.
Binary values print as {"hex": …}, 64-bit integers as strings, DateTime as ISO-8601 UTC.

examples:
  stillpoint ese info ntds.dit
  stillpoint ese tables SRUDB.dat --json
  stillpoint ese dump ntds.dit datatable --limit 10
  stillpoint ese dump mailbox.edb Folder_101 > folders.jsonl
`;

function jsonValue(v: EseValue): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof EseDateTime) return v.toJSON();
  if (Buffer.isBuffer(v)) return { hex: v.toString('hex') };
  if (Array.isArray(v)) return v.map(jsonValue);
  return String(v);
}

export function infoJson(i: EseInfo): Record<string, unknown> {
  const h = i.header;
  return {
    state: h.state, consistency: i.consistency.state, detail: i.consistency.detail,
    requiredLogs: h.requiredLogs, consistentPosition: h.consistentPosition, lastCommittedLog: h.lastCommittedLog,
    formatVersion: i.formatVersion, pageSize: i.pageSize, pageCount: i.pageCount,
    databaseTime: h.databaseTime.toString(), createdAt: h.createdAt, consistentTime: h.consistentTime,
    attachTime: h.attachTime, detachTime: h.detachTime, osVersion: h.osVersion, headerChecksums: h.checksum,
    badChecksumPages: i.badChecksumPages,
  };
}

export async function run(args: string[]): Promise<number> {
  const pos: string[] = [];
  let json = false, limit: number | undefined, checksums = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--help' || a === '-h') { process.stdout.write(USAGE); return 0; }
    if (a === '--json') json = true;
    else if (a === '--no-checksums') checksums = false;
    else if (a === '--limit' || a.startsWith('--limit=')) {
      const v = a.includes('=') ? a.slice(8) : args[++i];
      limit = Number(v);
      if (!Number.isInteger(limit) || limit < 0) { process.stderr.write(`stillpoint ese: --limit needs a whole number, got '${v}'\n`); return 2; }
    } else if (a.startsWith('--')) { process.stderr.write(`stillpoint ese: unknown option ${a}\n\n${USAGE}`); return 2; }
    else pos.push(a);
  }
  const [cmd, file, table] = pos;
  if (!cmd || !file || !['info', 'tables', 'dump'].includes(cmd)) {
    process.stderr.write(cmd && !['info', 'tables', 'dump'].includes(cmd) ? `stillpoint ese: unknown command '${cmd}'\n\n${USAGE}` : USAGE);
    return 2;
  }
  let reader;
  try { reader = openFileReader(file); } catch (e) {
    process.stderr.write(`stillpoint ese: cannot open ${file}: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    const db = await openEseDatabase(reader, { verifyChecksums: checksums });
    const info = db.info();
    if (info.consistency.state === 'dirty') process.stderr.write(`stillpoint ese: warning: ${file} is ${info.consistency.detail}\n`);
    if (cmd === 'info') return printInfo(info, json);
    if (cmd === 'tables') return printTables(db, json);
    return await dump(db, table, limit);
  } catch (e) {
    if (e instanceof FsError) { process.stderr.write(`stillpoint ese: ${file}: ${e.message}\n`); return 1; }
    throw e;
  } finally {
    reader.close();
  }
}

function printInfo(i: EseInfo, json: boolean): number {
  const j = infoJson(i);
  if (json) { process.stdout.write(JSON.stringify(j, null, 2) + '\n'); return 0; }
  const h = i.header;
  const lines = [
    `state:            ${h.state} (${i.consistency.state})`,
    `                  ${i.consistency.detail}`,
    `required logs:    ${h.requiredLogs.min}–${h.requiredLogs.max}${h.lastCommittedLog ? ` (last committed ${h.lastCommittedLog})` : ''}`,
    `consistent at:    generation ${h.consistentPosition.generation}, sector ${h.consistentPosition.sector}, offset ${h.consistentPosition.offset}${h.consistentTime ? ` (${h.consistentTime})` : ''}`,
    `format:           ${i.formatVersion}`,
    `page size:        ${i.pageSize} bytes, ${i.pageCount} pages`,
    `created:          ${h.createdAt ?? '-'}`,
    `engine OS:        ${h.osVersion}`,
    `header checksums: primary ${h.checksum.primary ? 'ok' : 'BAD'}, shadow ${h.checksum.shadow ? 'ok' : 'BAD'} (using ${h.checksum.used})`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function printTables(db: EseDatabase, json: boolean): number {
  const tables = db.tables().map((t) => ({ ...t, columnList: db.columns(t.name) }));
  if (json) { process.stdout.write(JSON.stringify({ consistency: db.info().consistency, tables }, null, 2) + '\n'); return 0; }
  for (const t of tables) {
    process.stdout.write(`${t.name} (object ${t.objid}, root page ${t.rootPage}${t.template ? `, template ${t.template}` : ''}): ${t.columns} columns\n`);
    for (const c of t.columnList) process.stdout.write(`  ${String(c.id).padStart(5)}  ${c.name}  ${c.type}${c.multiValued ? ' multi-valued' : ''} ${c.kind}\n`);
  }
  return 0;
}

async function dump(db: EseDatabase, table: string | undefined, limit: number | undefined): Promise<number> {
  const names = table ? [table] : db.tables().map((t) => t.name);
  const dirty = db.info().consistency.state === 'dirty';
  for (const name of names) {
    for await (const row of db.rows(name, { limit })) {
      const values: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(row.values)) values[k] = jsonValue(v);
      const line: Record<string, unknown> = { table: name, values };
      if (row.problems.length) line.problems = row.problems;
      if (dirty) line.dirty = true;
      process.stdout.write(JSON.stringify(line) + '\n');
    }
  }
  return 0;
}
