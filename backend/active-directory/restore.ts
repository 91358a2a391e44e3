/**
 * Restore backed-up objects into a live DC over LDAPS, with the user's own credentials:
 * - a deleted object whose tombstone (or, Recycle Bin off, recycled object) is still on the DC is REANIMATED (delete isDeleted, replace
 *   distinguishedName, with the Show Deleted control): it keeps its objectGUID and objectSid;
 * - a missing object is RECREATED (the DC gives it a new objectGUID and objectSid);
 * - an existing one is UPDATED;
 * then the chosen attributes get their backed-up values, the group memberships are put back, the
 * password is left, set or must be changed at next logon, and the account is enabled/disabled.
 * Password hashes and other secrets are never read from the backup nor written.
 * A refusal of the directory for lack of rights stops the restore with the LDAP result
 * (LiveDirectoryError kind 'rights'); other refusals are reported per attribute and the rest goes on.
 */
import type { ActiveDirectory, AdObject } from './directory.ts'
import { normalizeDn, splitDn } from './dn.ts'
import { binaryAttributes, liveValues, restorableValues } from './compare.ts'
import { canonical, guidFromBytes, sidFromLdap, type LdapValue } from './ldap-values.ts'
import { LiveDirectoryError, type LiveDirectory, type LiveEntry } from './live.ts'

export type PasswordOption = { mode: 'none' } | { mode: 'new'; value: string; mustChange?: boolean } | { mode: 'must-change' }

export interface AdRestoreOptions {
  /** 'all' restorable attributes (default), or these attribute names only. */
  attributes?: 'all' | string[]
  /** Put back the object's group memberships (memberOf) and, for groups, its members (default true). */
  memberships?: boolean
  password?: PasswordOption
  accountState?: 'keep' | 'enabled' | 'disabled'
  /** Container DN for a reanimated or recreated object (default: where it was at backup time). */
  targetContainer?: string
  /** When no tombstone is left: create the object anew (new objectGUID/objectSid). Default true. */
  recreate?: boolean
}

export type RestoreAction = 'reanimated' | 'recreated' | 'updated'

export interface ObjectRestoreResult {
  /** DN in the backup and on the DC after the restore. */
  dn: string
  liveDn: string
  objectGUID: string
  /** The objectGUID / objectSid the DC has now (equal to the backup's after reanimation). */
  liveObjectGUID?: string
  liveObjectSid?: string
  action: RestoreAction
  attributesWritten: string[]
  groupsAdded: string[]
  membersAdded: string[]
  password: 'unchanged' | 'set' | 'must-change' | 'set, must change'
  accountState?: 'enabled' | 'disabled'
  /** What the DC refused or what could not be done, object by object (the rest went on). */
  problems: string[]
}

const UF_ACCOUNTDISABLE = 0x2
const first = (v: LdapValue[]) => (v.length ? String(v[0]) : undefined)

function parentOf(dn: string): string { return splitDn(dn).slice(1).join(',') }
function rdnOf(dn: string): string { return splitDn(dn)[0]! }

const isUser = (o: AdObject) => o.objectClass.some((c) => c.toLowerCase() === 'user') && !o.objectClass.some((c) => c.toLowerCase() === 'computer')
const isGroup = (o: AdObject) => o.objectClass.some((c) => c.toLowerCase() === 'group')

/** Only rights failures stop a restore; other refusals become a problem of the object. */
async function attempt(problems: string[], what: () => Promise<void>): Promise<boolean> {
  try { await what(); return true } catch (e) {
    if (e instanceof LiveDirectoryError && (e.kind === 'rights' || e.kind === 'connection' || e.kind === 'credentials')) throw e
    problems.push((e as Error).message)
    return false
  }
}

export async function restoreObject(ad: ActiveDirectory, live: LiveDirectory, ref: string | number, options: AdRestoreOptions = {}): Promise<ObjectRestoreResult> {
  const o = ad.get(ref).result
  if (!o.objectGUID) throw new RangeError(`${o.dn} has no objectGUID in the backup`)
  const binary = binaryAttributes(ad)
  const problems: string[] = []
  const backupDn = o.deleted && o.lastKnownParent ? `${rdnOf(o.dn).split('\\0A')[0]},${o.lastKnownParent}` : o.dn
  const targetDn = options.targetContainer ? `${rdnOf(backupDn)},${options.targetContainer}` : backupDn
  const values = restorableValues(ad, o)
  let current = await live.byGuid(o.objectGUID, binary)
  let action: RestoreAction
  if (current && liveValues(current, 'isDeleted').some((v) => String(v).toUpperCase() === 'TRUE')) {
    await live.modify(current.dn, [
      { operation: 'delete', type: 'isDeleted', values: [] },
      { operation: 'replace', type: 'distinguishedName', values: [targetDn] },
    ], { showDeleted: true })
    action = 'reanimated'
  } else if (!current) {
    if (options.recreate === false) throw new LiveDirectoryError('not-found', `${o.dn} (objectGUID ${o.objectGUID}) is not on the DC, not even as a tombstone; allow recreating it`)
    const attrs: Record<string, LdapValue[]> = { objectClass: [...o.objectClass].reverse() }
    for (const [a, vals] of values) if (a.name.toLowerCase() !== 'useraccountcontrol') attrs[a.name] = vals
    await live.add(targetDn, attrs)
    action = 'recreated'
  } else {
    action = 'updated'
  }
  current = await live.byGuid(o.objectGUID, binary)
  if (!current) throw new LiveDirectoryError('not-found', `${o.dn} is not on the DC after the ${action === 'recreated' ? 'creation' : 'reanimation'}`)
  const liveDn = current.dn

  // Attributes: the chosen ones that differ. userAccountControl goes last, after the password.
  const wanted = options.attributes === undefined || options.attributes === 'all' ? undefined : new Set(options.attributes.map((n) => n.toLowerCase()))
  const attributesWritten: string[] = []
  const writeAttribute = async (name: string, vals: LdapValue[], entry: LiveEntry) => {
    const a = ad.schema.byName.get(name.toLowerCase())!
    const lv = liveValues(entry, name)
    const same = vals.length === lv.length && vals.map((v) => canonical(a, v)).sort().join('\0') === lv.map((v) => canonical(a, v)).sort().join('\0')
    if (same) return
    const ok = await attempt(problems, () => live.modify(liveDn, [vals.length ? { operation: 'replace', type: a.name, values: vals } : { operation: 'delete', type: a.name, values: [] }]))
    if (ok) attributesWritten.push(a.name)
  }
  let uac: LdapValue[] | undefined
  for (const [a, vals] of values) {
    if (wanted && !wanted.has(a.name.toLowerCase())) continue
    if (a.name.toLowerCase() === 'useraccountcontrol') { uac = vals; continue }
    await writeAttribute(a.name, vals, current)
  }
  // Chosen attributes without a value in the backup are cleared.
  if (wanted) for (const n of wanted) {
    const a = ad.schema.byName.get(n)
    if (a && ![...values.keys()].includes(a) && liveValues(current, a.name).length) await writeAttribute(a.name, [], current)
  }

  // Password (users only): never from the backup.
  let password: ObjectRestoreResult['password'] = 'unchanged'
  const pw = options.password ?? { mode: 'none' }
  if (pw.mode !== 'none') {
    if (!isUser(o)) problems.push(`${o.dn} is not a user: the password option does not apply`)
    else {
      if (pw.mode === 'new') {
        const encoded = Buffer.from(`"${pw.value}"`, 'utf16le')
        if (await attempt(problems, () => live.modify(liveDn, [{ operation: 'replace', type: 'unicodePwd', values: [encoded] }]))) password = 'set'
      }
      if (pw.mode === 'must-change' || (pw.mode === 'new' && pw.mustChange)) {
        if (await attempt(problems, () => live.modify(liveDn, [{ operation: 'replace', type: 'pwdLastSet', values: ['0'] }]))) password = password === 'set' ? 'set, must change' : 'must-change'
      }
    }
  }

  // userAccountControl from the backup, then the account state asked for.
  let accountState: ObjectRestoreResult['accountState']
  if (isUser(o) || o.objectClass.some((c) => c.toLowerCase() === 'computer')) {
    const fresh = await live.byGuid(o.objectGUID, binary) ?? current
    const backupUac = uac && (!wanted || wanted.has('useraccountcontrol')) ? Number(first(uac)) : undefined
    let target = backupUac ?? Number(first(liveValues(fresh, 'userAccountControl')) ?? 0)
    if (options.accountState === 'enabled') target &= ~UF_ACCOUNTDISABLE
    if (options.accountState === 'disabled') target |= UF_ACCOUNTDISABLE
    if (String(target) !== first(liveValues(fresh, 'userAccountControl'))) {
      if (await attempt(problems, () => live.modify(liveDn, [{ operation: 'replace', type: 'userAccountControl', values: [String(target)] }]))) attributesWritten.push('userAccountControl')
    }
    const now = Number(first(liveValues(await live.byGuid(o.objectGUID, binary) ?? fresh, 'userAccountControl')) ?? target)
    accountState = now & UF_ACCOUNTDISABLE ? 'disabled' : 'enabled'
  }

  // Memberships: the groups it was in, and for a group its members (each resolved on the DC by objectGUID).
  const groupsAdded: string[] = []
  const membersAdded: string[] = []
  if (options.memberships !== false) {
    const liveDnOf = async (backupDn: string): Promise<LiveEntry | undefined> => {
      let guid: string | undefined
      try { guid = ad.get(backupDn).result.objectGUID } catch { guid = undefined }
      const e = guid ? await live.byGuid(guid) : await live.byDn(backupDn)
      return e && !liveValues(e, 'isDeleted').some((v) => String(v).toUpperCase() === 'TRUE') ? e : undefined
    }
    const hasMember = (group: LiveEntry, dn: string) => liveValues(group, 'member').some((m) => normalizeDn(String(m)) === normalizeDn(dn))
    for (const g of [o.attributes.memberOf ?? []].flat().map(String)) {
      const group = await liveDnOf(g)
      if (!group) { problems.push(`group ${g} is not on the DC: membership not restored`); continue }
      if (hasMember(group, liveDn)) continue
      if (await attempt(problems, () => live.modify(group.dn, [{ operation: 'add', type: 'member', values: [liveDn] }]))) groupsAdded.push(group.dn)
    }
    if (isGroup(o)) {
      const self = await live.byGuid(o.objectGUID)
      for (const m of [o.attributes.member ?? []].flat().map(String)) {
        const member = await liveDnOf(m)
        if (!member) { problems.push(`member ${m} is not on the DC: not added`); continue }
        if (self && hasMember(self, member.dn)) continue
        if (await attempt(problems, () => live.modify(liveDn, [{ operation: 'add', type: 'member', values: [member.dn] }]))) membersAdded.push(member.dn)
      }
    }
  }

  const after = await live.byGuid(o.objectGUID, binary)
  const guidBuf = after && liveValues(after, 'objectGUID')[0]
  const sidBuf = after && liveValues(after, 'objectSid')[0]
  return {
    dn: o.dn, liveDn: after?.dn ?? liveDn, objectGUID: o.objectGUID,
    ...(Buffer.isBuffer(guidBuf) ? { liveObjectGUID: guidFromBytes(guidBuf) } : {}),
    ...(Buffer.isBuffer(sidBuf) ? { liveObjectSid: sidFromLdap(sidBuf) } : {}),
    action, attributesWritten, groupsAdded, membersAdded, password, ...(accountState ? { accountState } : {}), problems,
  }
}

export interface AdRestoreSummary { results: ObjectRestoreResult[]; restored: number; withProblems: number }

/** Restores objects one after the other (parents first as given); a rights refusal stops the whole restore. */
export async function restoreObjects(ad: ActiveDirectory, live: LiveDirectory, refs: (string | number)[], options: AdRestoreOptions = {}, onProgress?: (done: number, total: number, current: string) => void): Promise<AdRestoreSummary> {
  const results: ObjectRestoreResult[] = []
  for (const ref of refs) {
    onProgress?.(results.length, refs.length, String(ref))
    results.push(await restoreObject(ad, live, ref, options))
  }
  onProgress?.(results.length, refs.length, '')
  return { results, restored: results.length, withProblems: results.filter((r) => r.problems.length).length }
}
