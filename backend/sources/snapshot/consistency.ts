// What a restore point really is, decided from what vSphere reports after the snapshot — never from
// what was asked for (vSphere silently takes a crash-consistent snapshot when Tools cannot quiesce).
//   crash       — the snapshot is not quiesced.
//   filesystem  — quiesced: file systems flushed and frozen, applications not involved.
//   application — quiesced and the applications took part: on Windows, VSS writers are listed in the
//                 vss-manifest.zip VMware Tools left; elsewhere, the user's pre-freeze script (which
//                 quiesces the application) ran in the guest and exited 0.
import type { Consistency } from '../../model/consistency.ts';
import type { VssComponent, VssFile, VssManifest, VssWriter } from '../../model/vss.ts';
import { readZip } from './zip.ts';
import { say } from '../../common/service-text.ts';

export type { VssManifest } from '../../model/vss.ts';

/**
 * Parses vss-manifest.zip whole: the backup components document (backupComponents.xml: backup
 * type, the writers and components that took part) and the writer metadata documents next to it
 * (WRITER_METADATA: writer identity, components with their database, log and plain files).
 */
export function parseVssManifest(zip: Buffer): VssManifest {
  const entries = readZip(zip);
  const bc = entries.find((e) => e.name.toLowerCase().replace(/^.*\//, '') === 'backupcomponents.xml');
  if (!bc) throw new Error('vss-manifest.zip has no backupComponents.xml');
  return parseVssDocuments(decodeXml(bc.data), entries.filter((e) => e !== bc && /\.xml$/i.test(e.name)).map((e) => decodeXml(e.data)));
}

/** The manifest from the text of a backup components document and of writer metadata documents. */
export function parseVssDocuments(backupComponents: string, writerDocs: string[]): VssManifest {
  const bc = parseXml(backupComponents);
  const root = bc.find((n) => n.name === 'BACKUP_COMPONENTS');
  const backupType = root?.attrs.backupType;
  const writers = new Map<string, VssWriter>();
  for (const text of writerDocs) {
    const wm = parseXml(text).find((n) => n.name === 'WRITER_METADATA');
    const id = wm && child(wm, 'IDENTIFICATION');
    if (!wm || !id?.attrs.writerId) continue;
    const w: VssWriter = {
      writerId: normalizeId(id.attrs.writerId), name: id.attrs.friendlyName ?? normalizeId(id.attrs.writerId),
      ...(id.attrs.instanceId ? { instanceId: normalizeId(id.attrs.instanceId) } : {}),
      components: [],
    };
    for (const loc of children(wm, 'BACKUP_LOCATIONS')) {
      for (const c of loc.children) {
        if (c.name === 'DATABASE' || c.name === 'FILE_GROUP') w.components.push(component(c, c.name === 'DATABASE' ? 'database' : 'filegroup'));
      }
    }
    writers.set(key(w), w);
  }
  // The backup components document lists the components each writer took part with. Writers come
  // from it alone only when the archive holds no writer metadata document (some Tools versions put
  // only this document into it).
  const onlyBc = writers.size === 0;
  for (const wc of root ? children(root, 'WRITER_COMPONENTS') : []) {
    if (!wc.attrs.writerId) continue;
    const writerId = normalizeId(wc.attrs.writerId);
    const instanceId = wc.attrs.instanceId ? normalizeId(wc.attrs.instanceId) : undefined;
    const listed = children(wc, 'COMPONENT').map((c) => component(c, c.attrs.componentType));
    const known = writers.get(`${writerId}/${instanceId ?? ''}`) ?? [...writers.values()].find((w) => w.writerId === writerId);
    if (known) {
      for (const c of listed) if (!known.components.some((k) => k.name === c.name && k.logicalPath === c.logicalPath)) known.components.push(c);
      continue;
    }
    if (!onlyBc) continue;
    const w: VssWriter = {
      writerId, name: KNOWN_WRITERS[writerId] ?? listed[0]?.name ?? writerId, ...(instanceId ? { instanceId } : {}), components: listed,
    };
    writers.set(key(w), w);
  }
  return { ...(backupType ? { backupType } : {}), writers: [...writers.values()] };
}

/** Friendly names of well-known writers, for documents that carry only ids. */
const KNOWN_WRITERS: Record<string, string> = {
  '{b2014c9e-8711-4c5c-a5a9-3cf384484757}': 'NTDS',
  '{76fe1ac4-15f7-4bcd-987e-8e1acb462fb7}': 'Microsoft Exchange Writer',
  '{a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}': 'SqlServerWriter',
  '{e8132975-6f93-4464-a53e-1050253ae220}': 'System Writer',
  '{afbab4a2-367d-4d15-a586-71dbb18f8485}': 'Registry Writer',
  '{a6ad56c2-b509-4e6c-bb19-49d8f43532f0}': 'WMI Writer',
};

function key(w: VssWriter): string { return `${w.writerId}/${w.instanceId ?? ''}`; }

function normalizeId(id: string): string {
  const bare = id.trim().replace(/^\{|\}$/g, '').toLowerCase();
  return `{${bare}}`;
}

function component(n: XmlNode, type?: string): VssComponent {
  const a = n.attrs;
  const files: VssFile[] = [];
  for (const f of n.children) {
    const role = f.name === 'DATABASE_FILES' ? 'database' : f.name === 'DATABASE_LOGFILES' ? 'log' : f.name === 'FILE_LIST' ? 'file' : undefined;
    if (!role || f.attrs.path === undefined) continue;
    files.push({ path: f.attrs.path, filespec: f.attrs.filespec ?? '*', recursive: yesNo(f.attrs.recursive) ?? false, role });
  }
  return {
    name: a.componentName ?? '',
    ...(a.logicalPath ? { logicalPath: a.logicalPath } : {}),
    ...(type ? { type } : {}),
    ...(a.caption ? { caption: a.caption } : {}),
    ...(yesNo(a.selectable) !== undefined ? { selectable: yesNo(a.selectable)! } : {}),
    files,
  };
}

function yesNo(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  return /^(yes|true|1)$/i.test(v);
}

// A small XML reader: elements, attributes and nesting are all these documents carry (no text
// content is needed). VSS writes them as UTF-16 when they come from the API; Tools may store either.
interface XmlNode { name: string; attrs: Record<string, string>; children: XmlNode[] }

function decodeXml(b: Buffer): string {
  if (b[0] === 0xff && b[1] === 0xfe) return b.subarray(2).toString('utf16le');
  if (b[0] === 0xfe && b[1] === 0xff) return Buffer.from(b.subarray(2)).swap16().toString('utf16le');
  if (b.length >= 2 && b[0] === 0x3c && b[1] === 0x00) return b.toString('utf16le');
  return b.toString('utf8').replace(/^\uFEFF/, '');
}

function parseXml(text: string): XmlNode[] {
  const top: XmlNode[] = [];
  const stack: XmlNode[] = [];
  const tag = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<[?!][^>]*>|<(\/?)([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/g;
  for (const m of text.matchAll(tag)) {
    if (!m[2]) continue; // comment, CDATA, declaration
    const name = m[2].replace(/^[\w.-]+:/, '');
    if (m[1]) {
      const i = stack.map((n) => n.name).lastIndexOf(name);
      if (i >= 0) stack.length = i;
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of (m[3] ?? '').matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) attrs[a[1]!] = unescapeXml(a[2] ?? a[3] ?? '');
    const node: XmlNode = { name, attrs, children: [] };
    (stack.at(-1)?.children ?? top).push(node);
    if (!m[4]) stack.push(node);
  }
  return top;
}

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e.toLowerCase()]!;
  });
}

function child(n: XmlNode, name: string): XmlNode | undefined { return n.children.find((c) => c.name === name); }
function children(n: XmlNode, name: string): XmlNode[] { return n.children.filter((c) => c.name === name); }

export interface ConsistencyFacts {
  quiesced: boolean;
  guestFamily: 'windows' | 'linux' | 'other';
  vss?: VssManifest;
  /** The user's pre-freeze script ran and exited 0 before the snapshot. */
  preFreezeSucceeded: boolean;
}

export function classify(f: ConsistencyFacts): { consistency: Consistency; reason: string } {
  if (!f.quiesced) return { consistency: 'crash', reason: say('consistency.notQuiesced') };
  if (f.guestFamily === 'windows' && f.vss && f.vss.writers.length > 0) {
    return { consistency: 'application', reason: say('consistency.vssWriters', { writers: f.vss.writers.map((w) => w.name).join(', ') }) };
  }
  if (f.preFreezeSucceeded) return { consistency: 'application', reason: say('consistency.preFreezeQuiesced') };
  if (f.guestFamily === 'windows') return { consistency: 'filesystem', reason: say(f.vss ? 'consistency.noVssWriter' : 'consistency.noVssManifest') };
  return { consistency: 'filesystem', reason: say('consistency.fsQuiesced') };
}
