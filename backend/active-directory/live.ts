/**
 * A live domain controller over LDAPS, with the user's OWN credentials (never stored, never
 * logged): lookups by objectGUID (tombstones included, with the Show Deleted control), the
 * default naming context, and modifications. Directory refusals keep their LDAP result code and
 * text, so "insufficientAccessRights (50)" reaches the user as it came from the DC.
 */
import { Client, Change, Attribute, Control, EqualityFilter, ResultCodeError, type Filter, type BerWriter } from 'ldapts'
import { guidToBytes, type LdapValue } from './ldap-values.ts'

/** LDAP_SERVER_SHOW_DELETED_OID: tombstones and deleted objects are returned. */
export const SHOW_DELETED = '1.2.840.113556.1.4.417'
/** LDAP_SERVER_SHOW_RECYCLED_OID: recycled objects too (Recycle Bin on). */
export const SHOW_RECYCLED = '1.2.840.113556.1.4.2064'

/** LDAP_SERVER_SD_FLAGS_OID: which parts of nTSecurityDescriptor a read returns or a write replaces. */
export const SD_FLAGS = '1.2.840.113556.1.4.801'

/** The SD_FLAGS control: its value is SEQUENCE { INTEGER flags } (owner 1, group 2, DACL 4, SACL 8). */
class SdFlagsControl extends Control {
  readonly flags: number
  constructor(flags: number) { super(SD_FLAGS, { critical: true }); this.flags = flags }
  protected override writeControl(writer: BerWriter): void {
    writer.writeBuffer(Buffer.from([0x30, 0x03, 0x02, 0x01, this.flags & 0x0f]), 4)
  }
}

export interface LiveTarget {
  /** ldaps://dc01.corp.example:636 (ldap:// is refused: credentials and passwords travel). */
  url: string
  /** The user's own account (UPN, DOMAIN\\user or a DN) and password. */
  username: string
  password: string
  /** PEM of the CA that issued the DC's certificate; without it the system CAs are trusted. */
  caPem?: string
  /** Name to check the certificate against when the URL holds an address (e.g. dc01.corp.example). */
  serverName?: string
  timeoutMs?: number
}

const RESULT_NAMES: Record<number, string> = {
  1: 'operationsError', 2: 'protocolError', 8: 'strongerAuthRequired', 16: 'noSuchAttribute', 17: 'undefinedAttributeType',
  19: 'constraintViolation', 20: 'attributeOrValueExists', 21: 'invalidAttributeSyntax', 32: 'noSuchObject', 34: 'invalidDNSyntax',
  49: 'invalidCredentials', 50: 'insufficientAccessRights', 51: 'busy', 52: 'unavailable', 53: 'unwillingToPerform',
  64: 'namingViolation', 65: 'objectClassViolation', 66: 'notAllowedOnNonLeaf', 67: 'notAllowedOnRDN', 68: 'entryAlreadyExists',
  69: 'objectClassModsProhibited', 80: 'other',
}

export type LiveErrorKind = 'rights' | 'credentials' | 'not-found' | 'conflict' | 'refused' | 'connection'

/** A failure talking to the live DC, with the LDAP result when the directory answered. */
export class LiveDirectoryError extends Error {
  readonly kind: LiveErrorKind
  /** LDAP result code and name ("insufficientAccessRights"), when the DC answered. */
  readonly ldapCode?: number
  readonly ldapResult?: string
  /** HTTP-like status for the API: 403 rights, 401 credentials, 404, 409, 422 refused, 502 connection. */
  readonly status: number
  constructor(kind: LiveErrorKind, message: string, ldap?: { code: number; name: string }) {
    super(message)
    this.name = 'LiveDirectoryError'
    this.kind = kind
    if (ldap) { this.ldapCode = ldap.code; this.ldapResult = ldap.name }
    this.status = { rights: 403, credentials: 401, 'not-found': 404, conflict: 409, refused: 422, connection: 502 }[kind]
  }
}

/** Turns an ldapts / socket error into a LiveDirectoryError saying what the DC answered and what to do. */
export function liveError(e: unknown, doing: string): LiveDirectoryError {
  if (e instanceof LiveDirectoryError) return e
  if (e instanceof ResultCodeError) {
    const name = RESULT_NAMES[e.code] ?? `result ${e.code}`
    const text = `${doing}: the directory answered ${name} (${e.code})${e.message ? `: ${e.message.replace(/\s+/g, ' ').trim()}` : ''}`
    const ldap = { code: e.code, name }
    if (e.code === 50) return new LiveDirectoryError('rights', `${text}. The account you signed in with may not do this: use one with the rights (e.g. a member of Domain Admins or one delegated on the container).`, ldap)
    if (e.code === 49) return new LiveDirectoryError('credentials', `${text}. Check the user name and password.`, ldap)
    if (e.code === 8) return new LiveDirectoryError('credentials', `${text}. Connect over LDAPS (ldaps://…:636).`, ldap)
    if (e.code === 32) return new LiveDirectoryError('not-found', text, ldap)
    if (e.code === 68 || e.code === 20) return new LiveDirectoryError('conflict', text, ldap)
    return new LiveDirectoryError('refused', text, ldap)
  }
  const msg = (e as Error)?.message ?? String(e)
  return new LiveDirectoryError('connection', `${doing}: cannot reach the domain controller (${msg}). Check the address, that LDAPS (636) is open, and its certificate.`)
}

export interface LiveEntry {
  dn: string
  /** Attribute values by name as the DC returned them (binary syntaxes as Buffers). */
  attributes: Map<string, LdapValue[]>
}

export interface LiveDirectory {
  readonly url: string
  /** The domain's naming context (rootDSE defaultNamingContext). */
  defaultNamingContext(): Promise<string>
  /** An object by objectGUID, tombstone or not; undefined when the DC has none. */
  byGuid(guid: string, binary?: string[]): Promise<LiveEntry | undefined>
  /** An object by DN (not deleted ones); undefined when none. */
  byDn(dn: string, binary?: string[]): Promise<LiveEntry | undefined>
  /** Objects under a DN (scope sub), not deleted ones. */
  subtree(dn: string, attributes: string[], binary?: string[]): Promise<LiveEntry[]>
  /**
   * Whether the forest has the AD Recycle Bin on: the Recycle Bin Feature among msDS-EnabledFeature of
   * CN=Partitions of the configuration naming context.
   */
  recycleBinEnabled(): Promise<boolean>
  /** The object's nTSecurityDescriptor (binary), the parts asked for with the SD_FLAGS control; undefined when none is readable. */
  securityDescriptor(dn: string, sdFlags: number): Promise<Buffer | undefined>
  modify(dn: string, changes: { operation: 'add' | 'delete' | 'replace'; type: string; values: LdapValue[] }[], opts?: { showDeleted?: boolean; sdFlags?: number }): Promise<void>
  add(dn: string, attributes: Record<string, LdapValue[]>): Promise<void>
  close(): Promise<void>
}

function toEntry(e: Record<string, unknown> & { dn: string }): LiveEntry {
  const attributes = new Map<string, LdapValue[]>()
  for (const [k, v] of Object.entries(e)) {
    if (k === 'dn') continue
    const vals = (Array.isArray(v) ? v : [v]).filter((x): x is LdapValue => typeof x === 'string' || Buffer.isBuffer(x))
    if (vals.length) attributes.set(k, vals)
  }
  return { dn: e.dn, attributes }
}

/** Binds to the DC with the user's credentials; fails with a LiveDirectoryError (401 / 502). */
export async function connectLive(target: LiveTarget): Promise<LiveDirectory> {
  if (!/^ldaps:\/\//i.test(target.url)) throw new LiveDirectoryError('refused', `"${target.url}" is not an ldaps:// URL: item restore talks to the DC over LDAPS only (ldaps://dc.example.com:636), as credentials and passwords travel on it`)
  const tlsOptions = {
    ...(target.caPem ? { ca: target.caPem } : {}),
    ...(target.serverName ? { servername: target.serverName } : {}),
  }
  const client = new Client({ url: target.url, timeout: target.timeoutMs ?? 30_000, connectTimeout: Math.min(target.timeoutMs ?? 30_000, 15_000), tlsOptions })
  try {
    await client.bind(target.username, target.password)
  } catch (e) {
    await client.unbind().catch(() => undefined)
    throw liveError(e, `Signing in to ${target.url} as ${target.username}`)
  }
  const showDeleted = () => [new Control(SHOW_DELETED, { critical: true })]
  let nc: string | undefined
  let recycleBin: boolean | undefined
  const search = async (base: string, scope: 'base' | 'sub', filter: string | Filter, attributes: string[], binary: string[], controls?: Control[]) => {
    try {
      const r = await client.search(base, { scope, filter, attributes, explicitBufferAttributes: binary, paged: scope === 'sub' ? { pageSize: 500 } : false }, controls)
      return r.searchEntries.map((e) => toEntry(e as Record<string, unknown> & { dn: string }))
    } catch (e) {
      if (e instanceof ResultCodeError && e.code === 32) return []
      throw liveError(e, `Searching ${base}`)
    }
  }
  const self: LiveDirectory = {
    url: target.url,
    async defaultNamingContext() {
      if (nc) return nc
      const [root] = await search('', 'base', '(objectClass=*)', ['defaultNamingContext'], [])
      const v = root?.attributes.get('defaultNamingContext')?.[0]
      if (typeof v !== 'string') throw new LiveDirectoryError('refused', `${target.url} did not name its defaultNamingContext: is it an Active Directory domain controller?`)
      return (nc = v)
    },
    async recycleBinEnabled() {
      if (recycleBin !== undefined) return recycleBin
      const [root] = await search('', 'base', '(objectClass=*)', ['configurationNamingContext'], [])
      const config = root?.attributes.get('configurationNamingContext')?.[0]
      if (typeof config !== 'string') throw new LiveDirectoryError('refused', `${target.url} did not name its configurationNamingContext: is it an Active Directory domain controller?`)
      const [partitions] = await search(`CN=Partitions,${config}`, 'base', '(objectClass=*)', ['msDS-EnabledFeature'], [])
      const features = (partitions?.attributes.get('msDS-EnabledFeature') ?? []).map(String)
      // Windows and Samba both name the feature object so (CN=Recycle Bin Feature,CN=Optional Features,…).
      recycleBin = features.some((f) => /^CN=Recycle Bin Feature,CN=Optional Features,/i.test(f))
      return recycleBin
    },
    async securityDescriptor(dn, sdFlags) {
      const [hit] = await search(dn, 'base', '(objectClass=*)', ['nTSecurityDescriptor'], ['nTSecurityDescriptor'],
        [new Control(SHOW_DELETED, { critical: true }), new SdFlagsControl(sdFlags)])
      const v = hit?.attributes.get('nTSecurityDescriptor')?.[0]
      return Buffer.isBuffer(v) ? v : undefined
    },
    async byGuid(guid, binary = []) {
      const base = await self.defaultNamingContext()
      const filter = new EqualityFilter({ attribute: 'objectGUID', value: guidToBytes(guid) })
      const [hit] = await search(base, 'sub', filter, ['*', 'isDeleted', 'isRecycled', 'lastKnownParent', 'msDS-LastKnownRDN', 'memberOf'], ['objectGUID', 'objectSid', ...binary],
        [new Control(SHOW_DELETED, { critical: true }), new Control(SHOW_RECYCLED, { critical: false })])
      return hit
    },
    async byDn(dn, binary = []) {
      const [hit] = await search(dn, 'base', '(objectClass=*)', ['*', 'memberOf'], ['objectGUID', 'objectSid', ...binary])
      return hit
    },
    async subtree(dn, attributes, binary = []) {
      return search(dn, 'sub', '(objectClass=*)', attributes, ['objectGUID', 'objectSid', ...binary])
    },
    async modify(dn, changes, opts = {}) {
      try {
        await client.modify(dn, changes.map((c) => new Change({ operation: c.operation, modification: new Attribute({ type: c.type, values: c.values as string[] }) })),
          [...(opts.showDeleted ? showDeleted() : []), ...(opts.sdFlags ? [new SdFlagsControl(opts.sdFlags)] : [])])
      } catch (e) { throw liveError(e, `Changing ${changes.map((c) => c.type).join(', ')} of ${dn}`) }
    },
    async add(dn, attributes) {
      try {
        await client.add(dn, Object.entries(attributes).map(([type, values]) => new Attribute({ type, values: values as string[] })))
      } catch (e) { throw liveError(e, `Creating ${dn}`) }
    },
    async close() { await client.unbind().catch(() => undefined) },
  }
  return self
}
