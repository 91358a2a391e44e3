// EDB part of the ESE benchmark (run by bench/ese/run.ts as `--only edb`, or alone: node bench/ese/edb.ts):
// a SYNTHETIC Exchange-2013+-shaped mailbox database with 32 KiB pages and ≥ 50,000 messages (test ESE
// writer, test/ese-writer/edb.ts; 24 real mails composed by nodemailer and parsed by mailparser, copied
// with their own subjects, senders, dates and ids; every 10th with an attachment), read by our ESE reader
// and Exchange layer beside Debian's esedbinfo/esedbexport on the SAME file. Cached in
// ${BENCH_DIR:-tmpdir}/sp-bench-ese/edb-<messages>.edb. Figures, min/median/max over --repeat runs:
//   first listing   ours: open + mailboxes + folder tree + the first 50 messages of the Inbox;
//                   esedbinfo: open + list the tables (it cannot list messages without an export)
//   full scan       every message's summary (sender, recipients, subject, dates) decoded: ours vs
//                   `esedbexport -T Message_101` (raw columns to text): rows/s, MiB/s
//   search          ours: by subject, by sender, by date range, by attachment name (each a scan);
//                   esedbexport has no search: an export of the table + a scan of its text
// esedbexport runs --peer-repeat times (default 1; its export of the table is minutes). Nothing here asserts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { openFileReader } from '../../backend/ese/file-reader.ts';
import { openMailboxDatabase } from '../../backend/exchange/mailbox-database.ts';
import { writeEdb, type EdbMailbox, type EdbMessage } from '../../test/ese-writer/edb.ts';
import { composeMail, SAMPLE_MAILS } from '../../test/ese-writer/edb-mails.ts';

export interface EdbBenchOptions { messages?: number; repeat?: number; keep?: boolean; /** esedbexport runs (default 1: one export of a 150 MiB table takes minutes) */ peerRepeat?: number }

const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` };
const cacheDir = join(process.env.BENCH_DIR ?? tmpdir(), 'sp-bench-ese');

function stats(xs: number[]) { const s = [...xs].sort((a, b) => a - b); return { min: s[0]!, median: s[Math.floor(s.length / 2)]!, max: s[s.length - 1]! }; }
const ms = (x: { min: number; median: number; max: number }) => `${x.min.toFixed(0)} / ${x.median.toFixed(0)} / ${x.max.toFixed(0)} ms`;
const rate = (n: number, t: number) => n / (t / 1000);
function timed(cmd: string, argv: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(cmd, argv, { env, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed: ${r.stderr}`);
  return performance.now() - t0;
}
function table(title: string): (what: string, ours: string, peer: string) => void {
  process.stdout.write(`\n${title}\n${'figure'.padEnd(34)}  ${'Stillpoint (TypeScript ESE reader)'.padEnd(44)}  esedbexport / esedbinfo (libesedb 20181229)\n`);
  return (what, ours, peer) => process.stdout.write(`${what.padEnd(34)}  ${ours.padEnd(44)}  ${peer}\n`);
}

const FOLDERS = [
  { key: 'root', name: 'Top of Information Store' }, { key: 'inbox', name: 'Inbox', parent: 'root', containerClass: 'IPF.Note' },
  { key: 'projects', name: 'Projects', parent: 'inbox', containerClass: 'IPF.Note' }, { key: 'sent', name: 'Sent Items', parent: 'root', containerClass: 'IPF.Note' },
  { key: 'archive', name: 'Archive 2025', parent: 'root', containerClass: 'IPF.Note' },
];

/** The benchmark database (cached): one mailbox with `n` messages. */
export async function edbFile(n: number): Promise<string> {
  mkdirSync(cacheDir, { recursive: true });
  const file = join(cacheDir, `edb-${n}.edb`);
  if (existsSync(file)) return file;
  process.stderr.write(`bench/ese: building a synthetic EDB with ${n} messages (32 KiB pages; cached in ${cacheDir})…\n`);
  const templates: EdbMessage[] = [];
  const base = [...SAMPLE_MAILS[1]!, ...SAMPLE_MAILS[2]!];
  for (let i = 0; i < 24; i++) {
    const m = base[i % base.length]!;
    templates.push((await composeMail({ ...m, subject: `${m.subject} #${i}`, attachments: i % 3 === 0 ? m.attachments : [] })).message);
  }
  const folders = ['inbox', 'inbox', 'inbox', 'projects', 'sent', 'archive'];
  const t0 = Date.UTC(2025, 0, 1);
  const messages: EdbMessage[] = [];
  for (let i = 0; i < n; i++) {
    const t = templates[i % templates.length]!;
    const sent = new Date(t0 + i * 9 * 60_000);
    messages.push({
      ...t, folder: folders[i % folders.length]!, subject: `${t.subject.replace(/ #\d+$/, '')} [${i}]`,
      from: { name: `${t.from.name} ${i % 97}`, address: `sender${i % 97}@corp.example.test` },
      sent, received: new Date(sent.getTime() + 30_000), messageId: `<bench-${i}@mail01.corp.example.test>`,
      attachments: i % 10 === 0 ? [{ filename: `report-${i}.pdf`, contentType: 'application/pdf', content: Buffer.alloc(2000 + (i % 7) * 500, i & 255) }] : [],
      read: i % 4 !== 0,
    });
  }
  const mailbox: EdbMailbox = { number: 101, guid: createHash('md5').update('bench').digest(), ownerName: 'Bench Mailbox', smtp: 'bench@corp.example.test', folders: FOLDERS, messages };
  const tmp = `${file}.${process.pid}.tmp`;
  writeEdb(tmp, [mailbox]);
  renameSync(tmp, file);
  process.stderr.write(`bench/ese: ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB\n`);
  return file;
}

export async function benchEdb(o: EdbBenchOptions = {}): Promise<void> {
  const n = o.messages ?? 50_000, REPEAT = o.repeat ?? 3, PEER = o.peerRepeat ?? 1;
  const file = await edbFile(n);
  const size = statSync(file).size;
  const out = mkdtempSync(join(cacheDir, 'edb-export-'));
  try {
    const row = table(`EDB-shaped mailbox database (SYNTHETIC, 32 KiB pages, test writer), ${(size / 2 ** 20).toFixed(1)} MiB, ${n} messages, ${REPEAT} runs each: min / median / max`);
    const oursFirst: number[] = [], peerFirst: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const t0 = performance.now();
      const reader = openFileReader(file);
      const db = await openMailboxDatabase(reader);
      const [mb] = (await db.mailboxes()).items;
      const inbox = (await db.folders(mb!.number)).items.find((f) => f.name === 'Inbox')!;
      await db.search(mb!.number, { folderId: inbox.id, limit: 50 });
      oursFirst.push(performance.now() - t0);
      reader.close();
      peerFirst.push(timed('esedbinfo', [file]));
    }
    row('time to first listing (50 messages)', ms(stats(oursFirst)), `${ms(stats(peerFirst))} (esedbinfo: the tables only)`);
    const oursScan: number[] = [];
    let rows = 0;
    for (let i = 0; i < REPEAT; i++) {
      const reader = openFileReader(file);
      const db = await openMailboxDatabase(reader);
      const t0 = performance.now();
      rows = (await db.search(101)).items.length;
      oursScan.push(performance.now() - t0);
      reader.close();
    }
    const so = stats(oursScan);
    row(`full scan of Message_101 (${rows} messages)`, ms(so), PEER ? '(below: esedbexport takes minutes)' : '(esedbexport skipped: --peer-repeat 0)');
    row('scan throughput (median)', `${rate(rows, so.median).toFixed(0)} msg/s, ${rate(size / 2 ** 20, so.median).toFixed(1)} MiB/s`, '');
    const reader = openFileReader(file);
    const db = await openMailboxDatabase(reader);
    const needle = `[${Math.floor(n / 2)}]`;
    const queries: [string, Parameters<typeof db.search>[1]][] = [
      ['subject', { subject: needle }], ['sender', { from: 'sender42@' }],
      ['date range (1 day)', { after: '2025-03-01', before: '2025-03-02' }], ['attachment name', { attachment: `report-${n - 10}.pdf` }],
    ];
    for (const [what, q] of queries) {
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < REPEAT; i++) { const t0 = performance.now(); hits = (await db.search(101, q)).items.length; times.push(performance.now() - t0); }
      row(`search by ${what} (${hits} found)`, ms(stats(times)), '');
    }
    reader.close();
    // The peer: an export of the table (its full scan) is also its search (it has none), plus a text scan.
    if (!PEER) return;
    const peerScan: number[] = [], peerSearch: number[] = [];
    for (let i = 0; i < PEER; i++) {
      rmSync(join(out, 'x.export'), { recursive: true, force: true });
      const t = timed('esedbexport', ['-T', 'Message_101', '-t', join(out, 'x'), file]);
      peerScan.push(t);
      const t0 = performance.now();
      const dir = join(out, 'x.export');
      const text = readFileSync(join(dir, readdirSync(dir).find((f) => f.startsWith('Message_101'))!), 'utf8');
      // The subject is inside the hex-printed property blob: look for its UTF-16 bytes in hex.
      if (!text.includes(Buffer.from(needle, 'utf16le').toString('hex'))) throw new Error(`esedbexport's export has no ${needle}`);
      peerSearch.push(t + performance.now() - t0);
    }
    const sp = stats(peerScan);
    row(`full scan of Message_101, peer`, '', `${ms(sp)} (export to text, ${PEER} run${PEER === 1 ? '' : 's'}): ${rate(rows, sp.median).toFixed(0)} rows/s, ${rate(size / 2 ** 20, sp.median).toFixed(1)} MiB/s`);
    row('search by subject, peer', '', `${ms(stats(peerSearch))} (export + text scan)`);
  } finally {
    if (!o.keep) rmSync(out, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) || dflt : dflt);
  await benchEdb({ messages: opt('--messages', 50_000), repeat: opt('--repeat', 3), peerRepeat: args.includes('--peer-repeat') ? Number(args[args.indexOf('--peer-repeat') + 1]) : 1, keep: args.includes('--keep') });
}
