/**
 * Restore backed-up objects into a live DC over LDAPS, with the user's own credentials:
 * - a deleted object still on the DC is REANIMATED (delete isDeleted, replace distinguishedName, with the
 *   Show Deleted control): it keeps its objectGUID and objectSid. With the forest's Recycle Bin on, a
 *   deleted object kept all its attributes and link values, and reanimation brings them back (we then write
 *   only what still differs); with it off, it is a tombstone that kept only a few attributes, and the rest
 *   comes from the backup. A recycled object (isRecycled) cannot be reanimated: it is recreated;
 * - a missing object is RECREATED (the DC gives it a new objectGUID and objectSid);
 * - an existing one is UPDATED;
 * then the chosen attributes get their backed-up values, the group memberships are put back, the
 * password is left, set or must be changed at next logon, and the account is enabled/disabled, and
 * (option permissions) the backed-up owner, group and explicit ACEs of its security descriptor are written
 * back with the SD_FLAGS control (never the SACL; inherited ACEs are the DC's to recompute).
 * Password hashes and other secrets are never read from the backup nor written.
 * A refusal of the directory for lack of rights stops the restore with the LDAP result
 * (LiveDirectoryError kind 'rights'); other refusals are reported per attribute and the rest goes on.
 */
import type { ActiveDirectory, AdObject } from './directory.ts'
import { normalizeDn, splitDn } from './dn.ts'
import { binaryAttributes, liveValues, restorableValues } from './compare.ts'
import { canonical, guidFromBytes, sidFromLdap, type LdapValue } from './ldap-values.ts'
import { LiveDirectoryError, type LiveDirectory, type LiveEntry } from './live.ts'
import type { BackupSecurityDescriptors } from './sd-table.ts'
import { encodeSecurityDescriptor, parseSecurityDescriptor, permissionDifferences, restorablePart, SD_DACL, SD_GROUP, SD_OWNER } from './security-descriptor.ts'

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
  /**
   * Write back the backed-up owner, group and explicit (non-inherited) ACEs of the object's security
   * descriptor. Default: for reanimated and recreated objects, when the DC's differ (a tombstone loses
   * them); never for objects that were only updated unless asked for.
   */
  permissions?: boolean
}

export type RestoreAction = 'reanimated' | 'recreated' | 'updated'
/** How a deleted object came back: from the Recycle Bin (all attributes and links kept by the DC) or from a tombstone. */
export type ReanimatedFrom = 'recycle-bin' | 'tombstone'

export interface PermissionsResult {
  status: 'restored' | 'unchanged' | 'not-asked' | 'not-in-backup' | 'failed'
  /** What was different on the DC before (owner, group, explicit ACEs missing or extra). */
  changes: string[]
}

/** Where the restore reads the backed-up object's security descriptor from (the ntds.dit's sd_table). */
export interface RestoreSources { securityDescriptors?: BackupSecurityDescriptors }

export interface ObjectRestoreResult {
  /** DN in the backup and on the DC after the restore. */
  dn: string
  liveDn: string
  objectGUID: string
  /** The objectGUID / objectSid the DC has now (equal to the backup's after reanimation). */
  liveObjectGUID?: string
  liveObjectSid?: string
  action: RestoreAction
  /** For a reanimated object: Recycle Bin reanimation or tombstone reanimation. */
  reanimatedFrom?: ReanimatedFrom
  /** The live forest's Recycle Bin state, as read before restoring a deleted object. */
  recycleBin?: boolean
  permissions: PermissionsResult
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

export async function restoreObject(ad: ActiveDirectory, live: LiveDirectory, ref: string | number, options: AdRestoreOptions = {}, sources: RestoreSources = {}): Promise<ObjectRestoreResult> {
  const o = (await ad.get(ref)).result
  if (!o.objectGUID) throw new RangeError(`${o.dn} has no objectGUID in the backup`)
  const binary = binaryAttributes(ad)
  const problems: string[] = []
  const backupDn = o.deleted && o.lastKnownParent ? `${rdnOf(o.dn).split('\\0A')[0]},${o.lastKnownParent}` : o.dn
  const targetDn = options.targetContainer ? `${rdnOf(backupDn)},${options.targetContainer}` : backupDn
  const values = restorableValues(ad, o)
  let current = await live.byGuid(o.objectGUID, binary)
  let action: RestoreAction
  let reanimatedFrom: ReanimatedFrom | undefined
  let recycleBin: boolean | undefined
  const isTrue = (e: LiveEntry, a: string) => liveValues(e, a).some((v) => String(v).toUpperCase() === 'TRUE')
  if (current && isTrue(current, 'isDeleted')) {
    recycleBin = await live.recycleBinEnabled()
    if (recycleBin && isTrue(current, 'isRecycled')) {
      // Recycled (Recycle Bin on, deleted-object lifetime over): stripped and not reanimatable. With the
      // Recycle Bin off, a tombstone carries isRecycled too and is reanimated.
      problems.push(`${current.dn} is recycled (past the Recycle Bin's deleted-object lifetime): it cannot be reanimated`)
      current = undefined
    }
  }
  if (current && recycleBin !== undefined) {
    reanimatedFrom = recycleBin ? 'recycle-bin' : 'tombstone'
    try {
      await live.modify(current.dn, [
        { operation: 'delete', type: 'isDeleted', values: [] },
        { operation: 'replace', type: 'distinguishedName', values: [targetDn] },
      ], { showDeleted: true })
    } catch (e) {
      if (!(e instanceof LiveDirectoryError) || !recycleBin || e.kind !== 'refused') throw e
      throw new LiveDirectoryError('refused', `${e.message}. The Recycle Bin of this forest is on, and the DC refused to reanimate the deleted object ${current.dn} `
        + `(Samba 4.17 cannot: it deletes isRecycled, which a deleted-but-not-recycled object does not have). Restore it with Active Directory's own tools, or turn the Recycle Bin off on a test forest.`,
      e.ldapCode !== undefined ? { code: e.ldapCode, name: e.ldapResult! } : undefined)
    }
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
  // A recreated object has the new objectGUID the DC gave it: found by its DN, then followed by that GUID.
  current = action === 'recreated' ? await live.byDn(targetDn, binary) : await live.byGuid(o.objectGUID, binary)
  if (!current) throw new LiveDirectoryError('not-found', `${o.dn} is not on the DC after the ${action === 'recreated' ? 'creation' : 'reanimation'}`)
  const liveDn = current.dn
  const newGuid = liveValues(current, 'objectGUID')[0]
  const liveGuid = Buffer.isBuffer(newGuid) ? guidFromBytes(newGuid) : o.objectGUID

  const permissions = await restorePermissions(live, liveDn, o, action, options.permissions, sources.securityDescriptors, problems)

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
    const fresh = await live.byGuid(liveGuid, binary) ?? current
    const backupUac = uac && (!wanted || wanted.has('useraccountcontrol')) ? Number(first(uac)) : undefined
    let target = backupUac ?? Number(first(liveValues(fresh, 'userAccountControl')) ?? 0)
    if (options.accountState === 'enabled') target &= ~UF_ACCOUNTDISABLE
    if (options.accountState === 'disabled') target |= UF_ACCOUNTDISABLE
    if (String(target) !== first(liveValues(fresh, 'userAccountControl'))) {
      if (await attempt(problems, () => live.modify(liveDn, [{ operation: 'replace', type: 'userAccountControl', values: [String(target)] }]))) attributesWritten.push('userAccountControl')
    }
    const now = Number(first(liveValues(await live.byGuid(liveGuid, binary) ?? fresh, 'userAccountControl')) ?? target)
    accountState = now & UF_ACCOUNTDISABLE ? 'disabled' : 'enabled'
  }

  // Memberships: the groups it was in, and for a group its members (each resolved on the DC by objectGUID).
  const groupsAdded: string[] = []
  const membersAdded: string[] = []
  if (options.memberships !== false) {
    const liveDnOf = async (backupDn: string): Promise<LiveEntry | undefined> => {
      let guid: string | undefined
      try { guid = (await ad.get(backupDn)).result.objectGUID } catch { guid = undefined }
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
      const self = await live.byGuid(liveGuid)
      for (const m of [o.attributes.member ?? []].flat().map(String)) {
        const member = await liveDnOf(m)
        if (!member) { problems.push(`member ${m} is not on the DC: not added`); continue }
        if (self && hasMember(self, member.dn)) continue
        if (await attempt(problems, () => live.modify(liveDn, [{ operation: 'add', type: 'member', values: [member.dn] }]))) membersAdded.push(member.dn)
      }
    }
  }

  const after = await live.byGuid(liveGuid, binary)
  const guidBuf = after && liveValues(after, 'objectGUID')[0]
  const sidBuf = after && liveValues(after, 'objectSid')[0]
  return {
    dn: o.dn, liveDn: after?.dn ?? liveDn, objectGUID: o.objectGUID,
    ...(Buffer.isBuffer(guidBuf) ? { liveObjectGUID: guidFromBytes(guidBuf) } : {}),
    ...(Buffer.isBuffer(sidBuf) ? { liveObjectSid: sidFromLdap(sidBuf) } : {}),
    action, ...(reanimatedFrom ? { reanimatedFrom } : {}), ...(recycleBin !== undefined ? { recycleBin } : {}), permissions, attributesWritten, groupsAdded, membersAdded, password, ...(accountState ? { accountState } : {}), problems,
  }
}

/**
 * Owner, group and explicit ACEs from the backup, when they differ from the DC's. Owner and group are
 * written with the DACL (SD_FLAGS 7); when the DC refuses the owner (only holders of the restore privilege
 * may give an object to someone else), the DACL alone is written and the refusal reported.
 */
async function restorePermissions(live: LiveDirectory, liveDn: string, o: AdObject, action: RestoreAction, asked: boolean | undefined,
  sds: BackupSecurityDescriptors | undefined, problems: string[]): Promise<PermissionsResult> {
  const wanted = asked ?? action !== 'updated'
  if (!wanted) return { status: 'not-asked', changes: [] }
  const found = sds ? sds.of(o) : { missing: 'the backup\'s security descriptors were not read' }
  if ('missing' in found) {
    if (asked) problems.push(`permissions not restored: ${found.missing}`)
    return { status: 'not-in-backup', changes: [] }
  }
  let backup
  try { backup = restorablePart(parseSecurityDescriptor(found.sd)) } catch (e) {
    problems.push(`permissions not restored: the backed-up security descriptor of ${o.dn} is malformed (${(e as Error).message})`)
    return { status: 'failed', changes: [] }
  }
  const read = async () => {
    const b = await live.securityDescriptor(liveDn, SD_OWNER | SD_GROUP | SD_DACL)
    return b ? parseSecurityDescriptor(b) : undefined
  }
  const before = await read()
  const changes = before ? permissionDifferences(backup, before) : ['the DC returned no security descriptor']
  if (!changes.length) return { status: 'unchanged', changes }
  const write = (flags: number, sd: typeof backup) => live.modify(liveDn, [{ operation: 'replace', type: 'nTSecurityDescriptor', values: [encodeSecurityDescriptor(sd)] }], { sdFlags: flags })
  try {
    await write(SD_OWNER | SD_GROUP | SD_DACL, backup)
  } catch (e) {
    if (!(e instanceof LiveDirectoryError) || e.kind !== 'refused') throw e
    const daclOnly = { control: backup.control, ...(backup.dacl ? { dacl: backup.dacl } : {}) }
    if (!(await attempt(problems, () => write(SD_DACL, daclOnly)))) return { status: 'failed', changes }
    problems.push(`owner and group of ${liveDn} not restored: ${e.message}`)
  }
  const after = await read()
  const left = after ? permissionDifferences(backup, after).filter((c) => !/^(owner|group) /.test(c) || !problems.some((p) => p.startsWith('owner and group'))) : []
  if (left.length) { problems.push(`permissions of ${liveDn} still differ after writing them: ${left.join('; ')}`); return { status: 'failed', changes } }
  return { status: 'restored', changes }
}

export interface AdRestoreSummary { results: ObjectRestoreResult[]; restored: number; withProblems: number }

/** Restores objects one after the other (parents first as given); a rights refusal stops the whole restore. */
export async function restoreObjects(ad: ActiveDirectory, live: LiveDirectory, refs: (string | number)[], options: AdRestoreOptions = {}, onProgress?: (done: number, total: number, current: string) => void, sources: RestoreSources = {}): Promise<AdRestoreSummary> {
  const results: ObjectRestoreResult[] = []
  for (const ref of refs) {
    onProgress?.(results.length, refs.length, String(ref))
    results.push(await restoreObject(ad, live, ref, options, sources))
  }
  onProgress?.(results.length, refs.length, '')
  return { results, restored: results.length, withProblems: results.filter((r) => r.problems.length).length }
}
