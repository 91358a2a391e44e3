/**
 * Windows security descriptors in their self-relative binary form (MS-DTYP 2.4.6), as a DC stores
 * them in sd_table and returns nTSecurityDescriptor over LDAP: owner, group, DACL and SACL with their
 * ACEs (object ACEs with their object / inherited object types). No npm package here decodes them;
 * this reads and writes the binary form only (no SDDL), which is all a restore needs: the explicit
 * (non-inherited) ACEs and owner/group of a backed-up object, written back with the SD_FLAGS control.
 */
import { guidFromBytes, sidFromLdap } from './ldap-values.ts'

export const SE_DACL_PRESENT = 0x0004
export const SE_SACL_PRESENT = 0x0010
export const SE_DACL_AUTO_INHERITED = 0x0400
export const SE_DACL_PROTECTED = 0x1000
export const SE_SELF_RELATIVE = 0x8000
/** AceFlags: the ACE came from a parent (the DC recomputes these, a restore never writes them). */
export const INHERITED_ACE = 0x10

/** SD_FLAGS control bits: which parts of nTSecurityDescriptor a read returns or a write replaces. */
export const SD_OWNER = 0x1, SD_GROUP = 0x2, SD_DACL = 0x4, SD_SACL = 0x8

export interface Ace {
  type: number
  flags: number
  mask: number
  sid: string
  /** Object ACEs: the property, property set, extended right or child class it applies to. */
  objectType?: string
  inheritedObjectType?: string
  /** The whole ACE as stored (header included): written back unchanged. */
  raw: Buffer
}

export interface Acl { revision: number; aces: Ace[] }

export interface SecurityDescriptor {
  control: number
  owner?: string
  group?: string
  dacl?: Acl
  sacl?: Acl
  /** Binary SIDs as stored, for writing back. */
  ownerRaw?: Buffer
  groupRaw?: Buffer
}

const OBJECT_ACE_TYPES = new Set([0x05, 0x06, 0x07, 0x08, 0x0b, 0x0c, 0x0f, 0x10])

function sidLength(b: Buffer, at: number): number {
  if (at + 8 > b.length) throw new RangeError(`security descriptor: SID at ${at} runs past the end (${b.length} bytes)`)
  return 8 + 4 * b[at + 1]!
}

function readSid(b: Buffer, at: number): { sid: string; raw: Buffer } {
  const len = sidLength(b, at)
  if (at + len > b.length) throw new RangeError(`security descriptor: SID at ${at} runs past the end`)
  const raw = Buffer.from(b.subarray(at, at + len))
  const sid = sidFromLdap(raw)
  if (!sid) throw new RangeError(`security descriptor: SID at ${at} is not valid`)
  return { sid, raw }
}

function readAcl(b: Buffer, at: number): Acl {
  if (at + 8 > b.length) throw new RangeError(`security descriptor: ACL at ${at} runs past the end`)
  const revision = b[at]!
  const size = b.readUInt16LE(at + 2)
  const count = b.readUInt16LE(at + 4)
  if (at + size > b.length) throw new RangeError(`security descriptor: ACL of ${size} bytes at ${at} runs past the end (${b.length})`)
  const aces: Ace[] = []
  let p = at + 8
  for (let i = 0; i < count; i++) {
    if (p + 8 > at + size) throw new RangeError(`security descriptor: ACE ${i} of ${count} runs past its ACL`)
    const type = b[p]!, flags = b[p + 1]!, aceSize = b.readUInt16LE(p + 2)
    if (aceSize < 8 || p + aceSize > at + size) throw new RangeError(`security descriptor: ACE ${i} has a bad size (${aceSize})`)
    const mask = b.readUInt32LE(p + 4)
    let q = p + 8
    let objectType: string | undefined, inheritedObjectType: string | undefined
    if (OBJECT_ACE_TYPES.has(type)) {
      const present = b.readUInt32LE(q); q += 4
      if (present & 1) { objectType = guidFromBytes(b.subarray(q, q + 16)); q += 16 }
      if (present & 2) { inheritedObjectType = guidFromBytes(b.subarray(q, q + 16)); q += 16 }
    }
    const { sid } = readSid(b, q)
    aces.push({ type, flags, mask, sid, ...(objectType ? { objectType } : {}), ...(inheritedObjectType ? { inheritedObjectType } : {}), raw: Buffer.from(b.subarray(p, p + aceSize)) })
    p += aceSize
  }
  return { revision, aces }
}

/** Decodes a self-relative security descriptor; throws a RangeError saying where it is malformed. */
export function parseSecurityDescriptor(b: Buffer): SecurityDescriptor {
  if (b.length < 20) throw new RangeError(`security descriptor of ${b.length} bytes: too short (at least 20)`)
  if (b[0] !== 1) throw new RangeError(`security descriptor revision ${b[0]} (expected 1)`)
  const control = b.readUInt16LE(2)
  const [oOwner, oGroup, oSacl, oDacl] = [4, 8, 12, 16].map((o) => b.readUInt32LE(o)) as [number, number, number, number]
  const sd: SecurityDescriptor = { control }
  if (oOwner) { const s = readSid(b, oOwner); sd.owner = s.sid; sd.ownerRaw = s.raw }
  if (oGroup) { const s = readSid(b, oGroup); sd.group = s.sid; sd.groupRaw = s.raw }
  if (oDacl && control & SE_DACL_PRESENT) sd.dacl = readAcl(b, oDacl)
  if (oSacl && control & SE_SACL_PRESENT) sd.sacl = readAcl(b, oSacl)
  return sd
}

function encodeAcl(acl: Acl): Buffer {
  const body = Buffer.concat(acl.aces.map((a) => a.raw))
  const head = Buffer.alloc(8)
  head[0] = acl.revision
  head.writeUInt16LE(8 + body.length, 2)
  head.writeUInt16LE(acl.aces.length, 4)
  return Buffer.concat([head, body])
}

/** Self-relative binary form (header, owner, group, SACL, DACL). */
export function encodeSecurityDescriptor(sd: SecurityDescriptor): Buffer {
  const parts: Buffer[] = []
  const head = Buffer.alloc(20)
  head[0] = 1
  let control = sd.control | SE_SELF_RELATIVE
  let at = 20
  const place = (buf: Buffer | undefined, offset: number) => {
    if (!buf) return
    head.writeUInt32LE(at, offset)
    parts.push(buf)
    at += buf.length
  }
  place(sd.ownerRaw, 4)
  place(sd.groupRaw, 8)
  control = sd.sacl ? control | SE_SACL_PRESENT : control & ~SE_SACL_PRESENT
  place(sd.sacl && encodeAcl(sd.sacl), 12)
  control = sd.dacl ? control | SE_DACL_PRESENT : control & ~SE_DACL_PRESENT
  place(sd.dacl && encodeAcl(sd.dacl), 16)
  head.writeUInt16LE(control, 2)
  return Buffer.concat([head, ...parts])
}

/** The ACEs set on the object itself (not inherited from its parents). */
export function explicitAces(acl: Acl | undefined): Ace[] {
  return (acl?.aces ?? []).filter((a) => !(a.flags & INHERITED_ACE))
}

/** What a restore writes back: owner, group and the DACL's explicit ACEs (the DC adds the inherited ones). */
export function restorablePart(sd: SecurityDescriptor): SecurityDescriptor {
  return {
    control: SE_SELF_RELATIVE | SE_DACL_PRESENT | (sd.control & (SE_DACL_PROTECTED | SE_DACL_AUTO_INHERITED)),
    ...(sd.ownerRaw ? { owner: sd.owner, ownerRaw: sd.ownerRaw } : {}),
    ...(sd.groupRaw ? { group: sd.group, groupRaw: sd.groupRaw } : {}),
    dacl: { revision: sd.dacl?.revision ?? 4, aces: explicitAces(sd.dacl) },
  }
}

const aceKey = (a: Ace) => a.raw.toString('hex')

/** What differs between the restorable parts of two descriptors (empty when equal). */
export function permissionDifferences(backup: SecurityDescriptor, live: SecurityDescriptor): string[] {
  const out: string[] = []
  if (backup.owner && backup.owner !== live.owner) out.push(`owner ${live.owner ?? 'none'} → ${backup.owner}`)
  if (backup.group && backup.group !== live.group) out.push(`group ${live.group ?? 'none'} → ${backup.group}`)
  if ((backup.control & SE_DACL_PROTECTED) !== (live.control & SE_DACL_PROTECTED)) out.push(backup.control & SE_DACL_PROTECTED ? 'inheritance off' : 'inheritance on')
  const liveAces = new Set(explicitAces(live.dacl).map(aceKey))
  const backupAces = new Set(explicitAces(backup.dacl).map(aceKey))
  const missing = explicitAces(backup.dacl).filter((a) => !liveAces.has(aceKey(a)))
  const extra = explicitAces(live.dacl).filter((a) => !backupAces.has(aceKey(a)))
  if (missing.length) out.push(`${missing.length} explicit ACE${missing.length === 1 ? '' : 's'} missing (${missing.map(describeAce).join('; ')})`)
  if (extra.length) out.push(`${extra.length} explicit ACE${extra.length === 1 ? '' : 's'} not in the backup`)
  return out
}

const ACE_TYPES: Record<number, string> = { 0: 'allow', 1: 'deny', 2: 'audit', 5: 'allow object', 6: 'deny object', 7: 'audit object' }

/** "allow 0x30 to S-1-5-21-…-1105 on <guid>" — for reports and errors. */
export function describeAce(a: Ace): string {
  return `${ACE_TYPES[a.type] ?? `type ${a.type}`} 0x${a.mask.toString(16)} to ${a.sid}${a.objectType ? ` on ${a.objectType}` : ''}`
}
