/**
 * The AD layer's pure parts against real data: the DNs and attribute ids of a real Windows AD +
 * Exchange ntds.dit (ANSSI's AD-permissions sample dumps) and the schema of a real Samba AD DC.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { dnBuilder, type DnRow } from '../../backend/active-directory/dn.ts'
import { attrtypFromOid, attrtypOf, columnName, oidFromAttrtyp } from '../../backend/active-directory/attrtyp.ts'

const FIX = '/work/shared/fixtures/ese'

/**
 * The dump is tab-separated with CRLF line ends. Deleted objects' RDNs are "name<LF>DEL:<guid>": the
 * dump lost that line feed in its rDN column and wrote it as a line break inside the DN column (so a
 * lone "DEL:…" line continues the record before it). We put the line feed back into the RDN.
 */
function anssiObjects(): { row: DnRow; storedDn: string }[] {
  const text = gunzipSync(readFileSync(`${FIX}/anssi.AD-permissions/obj-ntds.dit-dump.csv.gz`)).toString('utf8')
  const lines = text.split('\r\n')
  const header = lines[0].split('\t')
  const col = (n: string) => header.indexOf(n)
  const records: string[][] = []
  for (const line of lines.slice(1)) {
    const f = line.split('\t')
    if (f.length < header.length) {
      if (line && records.length) records[records.length - 1][header.length - 1] += `\n${line}`
      continue
    }
    records.push(f)
  }
  return records.filter((f) => f[col('DNT_col')]).map((f) => ({
    row: {
      dnt: Number(f[col('DNT_col')]), pdnt: Number(f[col('PDNT_col')]), rdnType: Number(f[col('RDNtyp_col')] || 0),
      rdn: f[col('rDN')].replace(/(?<!\n)(DEL:[0-9a-f-]{36})$/, '\n$1'),
    },
    storedDn: f[col('distinguishedName')],
  }))
}

test('DNs rebuilt from the parent chain match the stored DNs of all 14,053 objects of a real Windows AD + Exchange ntds.dit', () => {
  const objs = anssiObjects()
  assert.equal(objs.length, 14053)
  const b = dnBuilder(objs.map((o) => o.row))
  let compared = 0
  for (const o of objs) {
    if (o.row.dnt <= 2) { assert.equal(b.dn(o.row.dnt), ''); continue }
    // The dump writes the deleted-object line feed raw; a DN string carries it escaped (\0A), as Windows shows it.
    assert.equal(b.dn(o.row.dnt), o.storedDn.replace(/\n/g, '\\0A'), `DNT ${o.row.dnt}`)
    compared++
  }
  assert.ok(compared > 14040, `${compared} compared`)
  assert.equal(b.dn(16509), 'CN=SMTP\\0ADEL:c60d1ce9-f4ad-4232-983d-c322cfe6c83e,CN=Deleted Objects,CN=Configuration,DC=park,DC=bis')
  assert.equal(b.dn(5764), 'CN=SQLServer2005MSSQLUser$DC1$MICROSOFT##SSEE,CN=Users,DC=park,DC=bis')
  assert.equal(b.dn(1787), 'DC=bis')
})

test('DN building: RFC 4514 escaping, loops and missing parents give clear errors', () => {
  const b = dnBuilder([
    { dnt: 2, pdnt: 0, rdn: '$ROOT_OBJECT$', rdnType: 0 },
    { dnt: 10, pdnt: 2, rdn: 'lab', rdnType: 1376281 },
    { dnt: 11, pdnt: 10, rdn: 'Smith, John+1 "x" <y>;\\', rdnType: 3 },
    { dnt: 12, pdnt: 10, rdn: ' #lead and trail ', rdnType: 11 },
    { dnt: 13, pdnt: 10, rdn: 'a#b', rdnType: 591538 },
    { dnt: 20, pdnt: 21, rdn: 'x', rdnType: 3 }, { dnt: 21, pdnt: 20, rdn: 'y', rdnType: 3 },
    { dnt: 30, pdnt: 99, rdn: 'orphan', rdnType: 3 },
  ], (t) => (t === 591538 ? 'mSMQ-MulticastAddress' : undefined))
  assert.equal(b.dn(11), 'CN=Smith\\, John\\+1 \\"x\\" \\<y\\>\\;\\\\,DC=lab')
  assert.equal(b.dn(12), 'OU=\\ #lead and trail\\ ,DC=lab')
  assert.equal(b.dn(13), 'mSMQ-MulticastAddress=a#b,DC=lab')
  assert.equal(b.dn(999), undefined)
  assert.throws(() => b.dn(20), /deeper than/)
  assert.throws(() => b.dn(30), /parent DNT 99, which is not in datatable/)
})

test('column names of all 1,473 attributes of a Samba AD DC schema: ATT + syntax letter + ATTRTYP', () => {
  const schema = JSON.parse(readFileSync(`${FIX}/samba-schema-att-columns.json`, 'utf8')) as Record<string, { attributeID: string; attrtyp: number; column: string; syntax: string }>
  const entries = Object.entries(schema)
  assert.equal(entries.length, 1473)
  let viaPrefix = 0
  for (const [name, a] of entries) {
    assert.equal(columnName(a.attrtyp, a.syntax), a.column, name)
    assert.equal(columnName(a.attrtyp, 0x80000 + Number(a.syntax.split('.')[3])), a.column, name)
    const t = attrtypFromOid(a.attributeID)
    if (t !== undefined) {
      viaPrefix++
      assert.equal(t, a.attrtyp, `${name} ${a.attributeID}`)
      assert.equal(oidFromAttrtyp(t), a.attributeID, name)
    }
  }
  assert.ok(viaPrefix > 1300, `${viaPrefix} attributes mapped through the default prefix table`)
})

test('ATTRTYP of 3,430 attributes of a real Windows AD + Exchange schema: msDS-IntId when set, else attributeID', () => {
  const lines = readFileSync(`${FIX}/anssi.AD-permissions/att-ntds.dit-dump.csv`, 'utf8').split(/\r?\n/).slice(1).filter((l) => l.trim())
  const rows = lines.map((l) => l.split('\t')).filter((f) => f[0]).map((f) => ({ name: f[0], intId: Number(f[1]), attributeId: Number(f[2]) }))
    // One row per object: class schema objects have a name but no attribute id.
    .filter((r) => r.intId !== 0 || r.attributeId !== 0)
  assert.equal(rows.length, 3430)
  const withIntId = rows.filter((r) => r.intId !== 0)
  assert.ok(withIntId.length >= 2000, `${withIntId.length} with msDS-IntId`)
  for (const r of rows) {
    const t = attrtypOf(r.attributeId, r.intId)
    assert.equal(t, r.intId !== 0 ? r.intId >>> 0 : r.attributeId, r.name)
    assert.ok(t >= 0 && t <= 0xffffffff)
  }
  // msDS-IntIds are the 0x80000000–0xBFFFFFFF range Windows allocates; base ones are small.
  for (const r of withIntId) assert.ok(attrtypOf(r.attributeId, r.intId) >= 0x80000000, r.name)
  const samba = JSON.parse(readFileSync(`${FIX}/samba-schema-att-columns.json`, 'utf8')) as Record<string, { attrtyp: number }>
  let same = 0
  for (const r of rows) if (r.intId === 0 && samba[r.name]) { assert.equal(r.attributeId, samba[r.name].attrtyp, r.name); same++ }
  assert.ok(same > 1000, `${same} base attributes compared with Samba's`)
})

test('rows of a real ntds.dit (decoded by go-ese): class ATTRTYPs, names, times and GUIDs as published', async () => {
  const { schemaFromRows } = await import('../../backend/active-directory/schema.ts')
  const { decodeAdValue } = await import('../../backend/active-directory/values.ts')
  const rows = readFileSync(`${FIX}/go-ese/golden/ntds.dit.golden`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  const s = schemaFromRows(rows)
  // governsIDs from Microsoft's published schema, through the default prefix table.
  assert.deepEqual([...s.classes].sort((a, b) => a[0] - b[0]), [[65540, 'organization'], [196617, 'dMD'], [1507375, 'nTDSDSA']])
  assert.equal(oidFromAttrtyp(65540), '2.5.6.4')
  assert.equal(oidFromAttrtyp(196617), '1.2.840.113556.1.3.9')
  assert.equal(oidFromAttrtyp(1507375), '1.2.840.113556.1.5.7000.47')
  const ctx = { dnOf: () => undefined, nameOf: (t: number) => s.nameOf(t), sdTable: false }
  const org = rows.find((r) => r.ATTm589825 === 'Organization')!
  const when = { name: 'whenCreated', attrtyp: 131074, syntax: '2.5.5.11', column: 'ATTl131074', single: true, searchFlags: 0 }
  assert.equal(decodeAdValue(when, org.ATTl131074 as number, ctx), '2013-05-21T16:44:37.000Z')
  const guid = { name: 'objectGUID', attrtyp: 589826, syntax: '2.5.5.10', column: 'ATTk589826', single: true, searchFlags: 0 }
  assert.equal(decodeAdValue(guid, Buffer.from(org.ATTk589826 as string, 'hex'), ctx), 'aa41562d-5628-48e3-be14-8245aef718a2')
  const oc = { name: 'objectClass', attrtyp: 0, syntax: '2.5.5.2', column: 'ATTc0', single: false, searchFlags: 0 }
  // classSchema and top have no row in the sample, so they come out as their governsIDs.
  assert.deepEqual((org.ATTc0 as number[]).map((t) => decodeAdValue(oc, t, ctx)), ['1.2.840.113556.1.3.13', '2.5.6.0'])
})
