/**
 * The schema from the ntds.dit itself: attributeSchema and classSchema objects of datatable give
 * every attribute its LDAP name, syntax, ATTRTYP (msDS-IntId or attributeID) and so its column, and
 * every class its name. Nothing is assumed about the DC's schema version or extensions (Exchange…).
 */
import { A, CLASS, attrtypOf, columnName, oidFromAttrtyp, SYNTAX_BASE } from './attrtyp.ts'

export interface AdAttribute {
  name: string
  attrtyp: number
  /** attributeSyntax as 2.5.5.N. */
  syntax: string
  column: string
  single: boolean
  linkId?: number
  searchFlags: number
}

export interface AdSchema {
  attributes: AdAttribute[]
  byColumn: Map<string, AdAttribute>
  byName: Map<string, AdAttribute>
  byLinkId: Map<number, AdAttribute>
  /** governsID ATTRTYP → class name. */
  classes: Map<number, string>
  classByName: Map<string, number>
  /** An ATTRTYP (attribute or class) as a name, else as an OID when the default prefix table has it. */
  nameOf(attrtyp: number): string
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined)
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === null || v === undefined ? [] : [v])

/** Builds the schema from datatable rows (values keyed by column name). */
export function schemaFromRows(rows: Iterable<Record<string, unknown>>): AdSchema {
  const col = (t: number, letter: string) => `ATT${letter}${t}`
  const attributes: AdAttribute[] = []
  const classes = new Map<number, string>()
  for (const r of rows) {
    const classesOf = list(r[col(A.objectClass, 'c')]).map(num)
    const ldapName = r[col(A.lDAPDisplayName, 'm')]
    if (typeof ldapName !== 'string') continue
    if (classesOf.includes(CLASS.attributeSchema)) {
      const attributeId = num(r[col(A.attributeId, 'c')])
      const syntax = num(r[col(A.attributeSyntax, 'c')])
      if (attributeId === undefined || syntax === undefined || syntax <= SYNTAX_BASE || syntax > SYNTAX_BASE + 25) continue
      const attrtyp = attrtypOf(attributeId, num(r[col(A.msDsIntId, 'j')]))
      const linkId = num(r[col(A.linkId, 'j')])
      const single = r[col(A.isSingleValued, 'i')]
      attributes.push({
        name: ldapName, attrtyp, syntax: `2.5.5.${syntax - SYNTAX_BASE}`, column: columnName(attrtyp, syntax),
        single: single === 1 || single === true, linkId: linkId || undefined, searchFlags: num(r[col(A.searchFlags, 'j')]) ?? 0,
      })
    } else if (classesOf.includes(CLASS.classSchema)) {
      const governsId = num(r[col(A.governsId, 'c')])
      if (governsId !== undefined) classes.set(governsId >>> 0, ldapName)
    }
  }
  return schemaOf(attributes, classes)
}

/** The schema's lookups from its attributes and classes (also to rebuild it on the far side of a worker). */
export function schemaOf(attributes: AdAttribute[], classes: Map<number, string>): AdSchema {
  const byAttrtyp = new Map(attributes.map((a) => [a.attrtyp, a]))
  return {
    attributes,
    byColumn: new Map(attributes.map((a) => [a.column, a])),
    byName: new Map(attributes.map((a) => [a.name.toLowerCase(), a])),
    byLinkId: new Map(attributes.filter((a) => a.linkId !== undefined).map((a) => [a.linkId!, a])),
    classes,
    classByName: new Map([...classes].map(([t, n]) => [n.toLowerCase(), t])),
    nameOf(t) { return byAttrtyp.get(t)?.name ?? classes.get(t) ?? oidFromAttrtyp(t) ?? `${t}` },
  }
}

/** The schema columns needed to read the schema (so a first pass decodes only these). */
export const SCHEMA_COLUMNS = [
  `ATTc${A.objectClass}`, `ATTm${A.lDAPDisplayName}`, `ATTc${A.attributeId}`, `ATTc${A.attributeSyntax}`,
  `ATTj${A.msDsIntId}`, `ATTj${A.linkId}`, `ATTi${A.isSingleValued}`, `ATTj${A.searchFlags}`, `ATTc${A.governsId}`,
]
