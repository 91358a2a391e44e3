/**
 * Compare objects of a backed-up ntds.dit with the live directory: found by objectGUID (so a moved
 * or renamed object is still the same one), each object is unchanged, changed (restorable
 * attributes and memberships that differ), deleted (a tombstone or recycled object on the DC) or
 * missing (the DC has no object with that GUID any more).
 */
import type { ActiveDirectory, AdObject } from './directory.ts'
import type { EseConsistency } from '../ese/database.ts'
import { normalizeDn } from './dn.ts'
import { canonical, displayValue, isBinarySyntax, isRestorable, toLdapValue, type LdapValue } from './ldap-values.ts'
import type { LiveDirectory, LiveEntry } from './live.ts'
import type { AdAttribute } from './schema.ts'
import type { AdValue } from './values.ts'

export type CompareStatus = 'unchanged' | 'changed' | 'deleted' | 'missing'

export interface AttributeDifference { name: string; backup: string[]; live: string[] }

export interface ObjectComparison {
  /** DN in the backup. */
  dn: string
  objectGUID: string
  objectSid?: string
  name: string
  objectClass: string[]
  sAMAccountName?: string
  status: CompareStatus
  /** DN on the DC now (a tombstone's DN under Deleted Objects for deleted ones). */
  liveDn?: string
  /** On the DC, at another DN than in the backup. */
  moved: boolean
  /** isRecycled on the DC: a tombstone whose attributes were stripped (Recycle Bin off, or past the deleted object lifetime); reanimation keeps its objectGUID and objectSid, the backup gives the rest. */
  recycled?: boolean
  attributes: AttributeDifference[]
  /** Groups the object was in at backup time and is not now (removed), or is in now and was not (added). */
  memberOf: { removed: string[]; added: string[] }
  /** For groups: members at backup time that are not now (removed), and new ones (added). */
  members: { removed: string[]; added: string[] }
}

export interface AdComparison {
  consistency: EseConsistency
  base: string
  subtree: boolean
  objects: ObjectComparison[]
  summary: Record<CompareStatus, number>
}

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v])

/** Attribute names a live search must return as Buffers (binary syntaxes of the backup's schema). */
export function binaryAttributes(ad: ActiveDirectory): string[] {
  return ad.schema.attributes.filter((a) => isBinarySyntax(a.syntax)).map((a) => a.name)
}

/** The live entry's values of an attribute (names are matched case-insensitively). */
export function liveValues(e: LiveEntry | undefined, name: string): LdapValue[] {
  if (!e) return []
  const want = name.toLowerCase()
  for (const [k, v] of e.attributes) if (k.toLowerCase() === want) return v
  return []
}

/** The backup object's restorable attributes in LDAP form, by schema attribute. */
export function restorableValues(ad: ActiveDirectory, o: AdObject): Map<AdAttribute, LdapValue[]> {
  const out = new Map<AdAttribute, LdapValue[]>()
  for (const [name, v] of Object.entries(o.attributes)) {
    const a = ad.schema.byName.get(name.toLowerCase())
    if (!a || !isRestorable(a)) continue
    const vals = list<AdValue>(v).map((x) => toLdapValue(a, x)).filter((x): x is LdapValue => x !== undefined)
    if (vals.length) out.set(a, vals)
  }
  return out
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000')

/** Restorable attributes whose values differ between the backup object and the live entry. */
export function attributeDifferences(ad: ActiveDirectory, o: AdObject, live: LiveEntry | undefined): AttributeDifference[] {
  const diffs: AttributeDifference[] = []
  const backup = restorableValues(ad, o)
  const seen = new Set<string>()
  for (const [a, vals] of backup) {
    seen.add(a.name.toLowerCase())
    const lv = liveValues(live, a.name)
    if (!sameSet(vals.map((v) => canonical(a, v)), lv.map((v) => canonical(a, v)))) {
      diffs.push({ name: a.name, backup: vals.map((v) => displayValue(a, v)), live: lv.map((v) => displayValue(a, v)) })
    }
  }
  // Set on the DC now, absent at backup time.
  for (const [k, lv] of live?.attributes ?? []) {
    const a = ad.schema.byName.get(k.toLowerCase())
    if (!a || seen.has(a.name.toLowerCase()) || !isRestorable(a)) continue
    diffs.push({ name: a.name, backup: [], live: lv.map((v) => displayValue(a, v)) })
  }
  return diffs.sort((x, y) => x.name.localeCompare(y.name))
}

function dnDiff(backup: string[], live: string[]): { removed: string[]; added: string[] } {
  const b = new Map(backup.map((d) => [normalizeDn(d), d]))
  const l = new Map(live.map((d) => [normalizeDn(d), d]))
  return { removed: [...b].filter(([k]) => !l.has(k)).map(([, d]) => d).sort(), added: [...l].filter(([k]) => !b.has(k)).map(([, d]) => d).sort() }
}

const isTrue = (v: LdapValue[]) => v.some((x) => String(x).toUpperCase() === 'TRUE')

/** One backed-up object against the DC. */
export async function compareObject(ad: ActiveDirectory, live: LiveDirectory, ref: string | number, binary = binaryAttributes(ad)): Promise<ObjectComparison> {
  const o = (await ad.get(ref)).result
  if (!o.objectGUID) throw new RangeError(`${o.dn} has no objectGUID in the backup: it cannot be matched with the live directory`)
  const e = await live.byGuid(o.objectGUID, binary)
  const deleted = !!e && isTrue(liveValues(e, 'isDeleted'))
  const status: CompareStatus = !e ? 'missing' : deleted ? 'deleted' : 'unchanged'
  const current = deleted ? undefined : e
  const attributes = attributeDifferences(ad, o, current)
  const memberOf = dnDiff(list(o.attributes.memberOf).map(String), liveValues(current, 'memberOf').map(String))
  const members = dnDiff(list(o.attributes.member).map(String), liveValues(current, 'member').map(String))
  const changed = attributes.length || memberOf.removed.length || memberOf.added.length || members.removed.length || members.added.length
  return {
    dn: o.dn, objectGUID: o.objectGUID, ...(o.objectSid ? { objectSid: o.objectSid } : {}), name: o.name, objectClass: o.objectClass,
    ...(o.sAMAccountName ? { sAMAccountName: o.sAMAccountName } : {}),
    status: status === 'unchanged' && changed ? 'changed' : status,
    ...(e ? { liveDn: e.dn } : {}),
    moved: !!current && normalizeDn(current.dn) !== normalizeDn(o.dn),
    ...(deleted && isTrue(liveValues(e, 'isRecycled')) ? { recycled: true } : {}),
    attributes, memberOf, members,
  }
}

/** The backed-up objects to work on: the object, or it and everything under it (not the ones deleted at backup time), parents first. */
export async function objectsOf(ad: ActiveDirectory, ref: string, subtree: boolean): Promise<string[]> {
  const root = (await ad.get(ref)).result
  if (!subtree) return [root.dn]
  const under = (await ad.search({ base: root.dn, limit: 1_000_000 })).result.map((s) => s.dn)
  const all = [...new Set([root.dn, ...under])]
  const depth = (dn: string) => normalizeDn(dn).split(',').length
  return all.sort((a, b) => depth(a) - depth(b) || a.localeCompare(b))
}

export async function compareWithLive(ad: ActiveDirectory, live: LiveDirectory, ref: string, options: { subtree?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<AdComparison> {
  const dns = await objectsOf(ad, ref, !!options.subtree)
  const binary = binaryAttributes(ad)
  const objects: ObjectComparison[] = []
  for (const dn of dns) {
    objects.push(await compareObject(ad, live, dn, binary))
    options.onProgress?.(objects.length, dns.length)
  }
  const summary: Record<CompareStatus, number> = { unchanged: 0, changed: 0, deleted: 0, missing: 0 }
  for (const c of objects) summary[c.status]++
  return { consistency: ad.consistency, base: dns[0]!, subtree: !!options.subtree, objects, summary }
}
