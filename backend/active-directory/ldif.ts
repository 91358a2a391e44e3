/**
 * LDIF export of backed-up objects (RFC 2849, as ldifde writes it): one record per object with
 * every attribute the backup holds in LDAP form; binary values, and text that LDIF cannot carry as
 * is, base64-encoded ("attr:: …"). Secrets are never in it (the AD layer withholds them), nor are
 * security descriptors (kept in sd_table) and DN-Binary values.
 */
import type { ActiveDirectory } from './directory.ts'
import { isRestorable, toLdapValue, type LdapValue } from './ldap-values.ts'
import type { AdValue } from './values.ts'

const SAFE = /^[\x01-\x09\x0b-\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b-\x0c\x0e-\x7f]*$/

function line(name: string, v: LdapValue): string {
  if (Buffer.isBuffer(v)) return `${name}:: ${v.toString('base64')}`
  if (v === '') return `${name}:`
  if (!SAFE.test(v) || v.endsWith(' ')) return `${name}:: ${Buffer.from(v, 'utf8').toString('base64')}`
  return `${name}: ${v}`
}

/** Folds lines longer than 76 characters (continuations start with one space). */
function fold(l: string): string {
  if (l.length <= 76) return l
  const parts = [l.slice(0, 76)]
  for (let i = 76; i < l.length; i += 75) parts.push(` ${l.slice(i, i + 75)}`)
  return parts.join('\n')
}

export interface LdifOptions {
  /** Only the attributes a restore would write (plus objectClass): an LDIF to import elsewhere. Default false (everything). */
  importable?: boolean
}

/** The objects (by DN, objectGUID or DNT) as LDIF text. */
export async function exportLdif(ad: ActiveDirectory, refs: (string | number)[], options: LdifOptions = {}): Promise<string> {
  const c = ad.consistency
  const out: string[] = [
    'version: 1',
    `# Exported by Stillpoint from a backed-up ntds.dit (database ${c.state}${c.state === 'dirty' ? ', read without log replay' : ''}).`,
    '# Password hashes and other secrets are never exported.',
    '',
  ]
  for (const ref of refs) {
    const o = (await ad.get(ref)).result
    out.push(fold(line('dn', o.dn)))
    if (options.importable) out.push('changetype: add')
    const names = Object.keys(o.attributes).sort((a, b) => (a === 'objectClass' ? -1 : b === 'objectClass' ? 1 : a.localeCompare(b)))
    for (const name of names) {
      const a = ad.schema.byName.get(name.toLowerCase())
      if (!a) continue
      if (options.importable && name !== 'objectClass' && !isRestorable(a)) continue
      const vals = ([] as AdValue[]).concat(o.attributes[name]!)
      for (const v of vals) {
        const lv = toLdapValue(a, v)
        if (lv !== undefined) out.push(fold(line(a.name, lv)))
      }
    }
    if (o.withheld.length) out.push(`# withheld (secrets, never exported): ${o.withheld.join(', ')}`)
    out.push('')
  }
  return out.join('\n')
}
