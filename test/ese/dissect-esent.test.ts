/**
 * Values asserted by dissect.esedb's tests/test_esedb.py (fox-it, Apache-2.0) on its fixtures, including
 * the 32 KiB-page large.edb that esedbexport cannot read, and esent.dll's own dump (esentoutput2.txt
 * from strozfriedberg/ese_parser) for 7-bit and XPRESS compressed columns and the catalog.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { openEseDatabase, type EseRow } from '../../backend/ese/database.ts'
import { openFileReader } from '../../backend/ese/file-reader.ts'
import { EseDateTime } from '../../backend/ese/values.ts'
import { FIXTURES, fixture } from './helpers.ts'

async function rowsOf(rel: string, table: string) {
  const r = openFileReader(fixture(rel))
  try {
    const db = await openEseDatabase(r)
    const rows: EseRow[] = []
    for await (const row of db.rows(table)) rows.push(row)
    for (const row of rows) assert.deepEqual(row.problems, [])
    return { db, rows: rows.map((x) => x.values) }
  } finally { r.close() }
}

/** dissect converts OLE dates naively (epoch + days), so compare the stored double with that. */
const naiveOle = (iso: string) => (Date.parse(iso) - Date.UTC(1899, 11, 30)) / 86400000
const ole = (v: unknown) => (v as EseDateTime).oleDate
const a = (n: number) => 'a'.repeat(n)
const ab = (n: number) => Buffer.from(a(n))

test('dissect oracle: basic.edb, 13 column types', async () => {
  const { db, rows } = await rowsOf('dissect.esedb/basic.edb.gz', 'basic')
  assert.deepEqual(db.columns('basic').map((c) => [c.name, c.type]), [['Id', 'Long'], ['Bit', 'Bit'], ['UnsignedByte', 'UnsignedByte'], ['Short', 'Short'], ['Long', 'Long'], ['Currency', 'Currency'], ['IEEESingle', 'IEEESingle'], ['IEEEDouble', 'IEEEDouble'], ['DateTime', 'DateTime'], ['UnsignedLong', 'UnsignedLong'], ['LongLong', 'LongLong'], ['GUID', 'GUID'], ['UnsignedShort', 'UnsignedShort']])
  assert.equal(rows.length, 2)
  const [r0, r1] = rows
  assert.deepEqual([r0.Id, r0.Bit, r0.UnsignedByte, r0.Short, r0.Long, r0.Currency, r0.IEEESingle, r0.IEEEDouble, r0.UnsignedLong, r0.LongLong, r0.GUID, r0.UnsignedShort],
    [1, false, 213, -1337, -13371337, 1337133713371337n, 1.0, 13371337.13371337, 13371337, -13371337n, '3f360af1-6766-46dc-9af2-0dacf295c2a1', 1337])
  assert.equal((r0.DateTime as EseDateTime).toISOString(), '1999-03-01T00:00:00.000Z')
  assert.deepEqual([r1.Id, r1.Bit, r1.UnsignedByte, r1.Short, r1.Long, r1.Currency, r1.IEEESingle, r1.IEEEDouble], [2, true, 255, 1339, 13391339, -1339133913391339n, -2.0, -13391339.13391339])
  assert.equal(ole(r1.DateTime), naiveOle('1337-06-09T00:00:00Z'))
})

test('dissect oracle: binary.edb, fixed/variable/tagged/long/compressed binary', async () => {
  const { rows: [r] } = await rowsOf('dissect.esedb/binary.edb.gz', 'binary')
  assert.deepEqual(r.FixedBinary, Buffer.concat([Buffer.from('test fixed binary data'), Buffer.alloc(233)]))
  assert.equal(r.NullableFixedBinary, null)
  assert.deepEqual(r.Binary, Buffer.from('test binary data'))
  assert.equal(r.NullableBinary, null)
  assert.deepEqual(r.MaxBinary, Buffer.concat([Buffer.from('test max binary data '), ab(70)]))
  assert.deepEqual(r.TaggedBinary, Buffer.from('test tagged binary data'))
  assert.equal(r.NullableTaggedBinary, null)
  assert.deepEqual(r.LongBinary, Buffer.concat([Buffer.from('test long binary data '), ab(1000)]))
  assert.deepEqual(r.LongCompressedBinary, Buffer.concat([Buffer.from('test long compressed binary data '), ab(1000)]))
  assert.deepEqual(r.MaxLongBinary, Buffer.concat([Buffer.from('test max long binary data '), ab(900)]))
  assert.deepEqual(r.MaxLongCompressedBinary, Buffer.concat([Buffer.from('test max long compressed binary data '), ab(900)]))
})

test('dissect oracle: text.edb, ASCII and UTF-16 text in every storage form', async () => {
  const { rows: [r] } = await rowsOf('dissect.esedb/text.edb.gz', 'text')
  const fox = '🦊'
  assert.deepEqual(r, {
    Id: 1, FixedASCII: 'Fixed ASCII text' + ' '.repeat(239), FixedUnicode: `Fixed Unicode text ${fox}` + ' '.repeat(107),
    NullableFixedASCII: null, NullableFixedUnicode: null, ASCII: 'Simple ASCII text', Unicode: `Simple Unicode text ${fox}`,
    NullableASCII: null, NullableUnicode: null, MaxASCII: "Max ASCII text that can't be that long", MaxUnicode: `Max Unicode text that can't be that long ${fox}`,
    TaggedASCII: 'Tagged ASCII text', TaggedUnicode: `Tagged Unicode text ${fox}`, NullableTaggedASCII: null, NullableTaggedUnicode: null,
    LongASCII: 'Long ASCII text ' + a(1024), LongUnicode: `Long Unicode text ${fox} ` + a(1024),
    LongCompressedASCII: 'Long compressed ASCII text ' + a(1024), LongCompressedUnicode: `Long compressed Unicode text ${fox} ` + a(1024),
    LongTinyASCII: 'Tiny ASCII', LongTinyUnicode: `Tiny ${fox}`, LongTinyCompressedASCII: 'Tiny c ASCII', LongTinyCompressedUnicode: `Tiny c ${fox}`,
    MaxLongASCII: 'Max long ASCII text that can be a bit longer ' + a(900), MaxLongUnicode: `Max long Unicode text that can be a bit longer ${fox} ` + a(900),
    MaxLongCompressedASCII: 'Max long compressed ASCII text that can be a bit longer ' + a(900),
    MaxLongCompressedUnicode: `Max long compressed Unicode text that can be a bit longer ${fox} ` + a(900),
  })
})

test('dissect oracle: multi.edb, multi-values (inline, long, compressed, two-value)', async () => {
  const { rows: [r0, r1] } = await rowsOf('dissect.esedb/multi.edb.gz', 'multi')
  assert.deepEqual([r0.Bit, r0.UnsignedByte, r0.Short, r0.Long, r0.Currency, r0.IEEESingle, r0.IEEEDouble],
    [[false, true], [0, 127, 255], [0, -32767, 32767], [0, -2147483647, 2147483647], [0n, -9223372036854775807n, 9223372036854775807n], [0, -1, 1], [0, -1, 1]])
  assert.deepEqual((r0.DateTime as EseDateTime[]).map((d) => d.oleDate), ['1661-04-17T11:30:00Z', '2077-04-01T00:00:00Z', '2517-09-24T05:30:00Z'].map(naiveOle))
  const three = (f: (i: number) => string) => [1, 2, 3].map(f)
  assert.deepEqual(r0.Binary, three((i) => `Some binary data that has multiple values, this is value ${i}`).map((s) => Buffer.from(s)))
  assert.deepEqual(r0.LongBinary, three((i) => `Some very long binary data that has multiple values, this is value ${i} ${a(1024)}`).map((s) => Buffer.from(s)))
  assert.deepEqual(r0.LongCompressedBinary, three((i) => `Some very long compressed binary data that has multiple values, this is value ${i} ${a(1024)}`).map((s) => Buffer.from(s)))
  assert.deepEqual(r0.ASCII, three((i) => `Some ASCII text that has multiple values, this is value ${i}`))
  assert.deepEqual(r0.Unicode, three((i) => `Some Unicode text that has multiple values, this is value ${i} ${'🦊'.repeat(i)}`))
  assert.deepEqual(r0.LongASCII, three((i) => `Some very long ASCII text that has multiple values, this is value ${i} ${a(1024)}`))
  assert.deepEqual(r0.LongUnicode, three((i) => `Some very long Unicode text that has multiple values, this is value ${i} ${'🦊'.repeat(i)} ${a(1024)}`))
  assert.deepEqual(r0.LongCompressedASCII, three((i) => `Some very long compressed ASCII text that has multiple values, this is value ${i} ${a(1024)}`))
  assert.deepEqual(r0.LongCompressedUnicode, three((i) => `Some very long compressed Unicode text that has multiple values, this is value ${i} ${'🦊'.repeat(i)} ${a(1024)}`))
  assert.deepEqual([r0.UnsignedLong, r0.LongLong, r0.UnsignedShort], [[0, 4294967295], [0n, -9223372036854775807n, 9223372036854775807n], [0, 65535]])
  assert.deepEqual(r0.GUID, ['03402861-fad3-4ce5-986e-d31df852f2a7', '09b589e3-a92b-4936-bbc4-bb9dff334bf3', '2212ff6a-6712-4fe4-bb4a-21e6d0e043d1'])
  for (const k of ['Bit', 'UnsignedByte', 'Short', 'Long', 'Currency', 'IEEESingle', 'IEEEDouble', 'DateTime', 'Binary', 'ASCII', 'Unicode', 'UnsignedLong', 'LongLong', 'GUID', 'UnsignedShort']) assert.equal(r1[k], null, k)
  assert.deepEqual(r1.LongBinary, ['Tiny binary 1', 'Tiny binary 2', 'Tiny binary 3'].map((s) => Buffer.from(s)))
  assert.deepEqual(r1.LongCompressedBinary, ['Tiny c binary 1', 'Tiny c binary 2', 'Tiny c binary 3'].map((s) => Buffer.from(s)))
  assert.deepEqual(r1.LongASCII, ['Tiny ASCII 1', 'Tiny ASCII 2'])
  assert.deepEqual(r1.LongUnicode, ['Tiny 🦊 1', 'Tiny 🦊🦊', 'Tiny 🦊🦊🦊'])
  assert.deepEqual(r1.LongCompressedASCII, [a(41), 'b'.repeat(40), 'c'.repeat(35)])
  assert.deepEqual(r1.LongCompressedUnicode, [a(43) + ' 🦊', 'b'.repeat(41) + ' 🦊🦊'])
})

test('dissect oracle: default.edb, catalog default values fill absent columns', async () => {
  const { rows } = await rowsOf('dissect.esedb/default.edb.gz', 'default')
  assert.equal(rows.length, 1)
  const r = rows[0]
  assert.deepEqual([r.Id, r.Bit, r.UnsignedByte, r.Short, r.Long, r.Currency, r.IEEESingle, r.IEEEDouble, r.UnsignedLong, r.LongLong, r.GUID, r.UnsignedShort],
    [1, true, 69, 0x1234, 0x12345678, 0x123456789abcdef0n, 1.0, 2.0, 12345678, 0xc001deadd00dn, 'c001d00d-dead-beef-face-feeddeadbeef', 0xf00d])
  assert.equal((r.DateTime as EseDateTime).toISOString(), '2022-10-04T00:00:00.000Z')
  assert.deepEqual([r.Binary, r.LongBinary], [Buffer.from('Short default binary'), Buffer.concat([Buffer.from('Long default binary '), ab(200)])])
  assert.deepEqual([r.ASCII, r.Unicode, r.LongASCII, r.LongUnicode], ['Short default ASCII', 'Short default Unicode 🦊', 'Long default ASCII ' + a(200), 'Long default Unicode 🦊 ' + a(64)])
})

test('dissect oracle: large.edb, 32 KiB pages (Exchange 2010+ size), 64,994 columns, 16 rows', async () => {
  const { db, rows } = await rowsOf('dissect.esedb/large.edb.gz', 'large')
  assert.equal(db.info().pageSize, 32768)
  assert.equal(db.info().pageCount, 766)
  assert.equal(db.info().consistency.state, 'clean')
  const cols = db.columns('large')
  assert.equal(cols.length, 64994)
  assert.deepEqual([cols[0].name, cols[0].type], ['Id', 'Long'])
  assert.ok(cols.slice(1).every((c, i) => c.name === `Column${i}` && c.type === 'UnsignedShort'))
  assert.equal(rows.length, 16)
  for (let i = 0; i < 64993; i++) assert.equal(rows[Math.floor(i / 4096)][`Column${i}`], i, `Column${i}`)
})

/** esentoutput2.txt: `table NAME`, then |-separated rows; binary as `  N bytes: hex …` (first 16 bytes). */
function esentDump(): Map<string, { header: string[]; rows: string[][] }> {
  const out = new Map<string, { header: string[]; rows: string[][] }>()
  let cur: { header: string[]; rows: string[][] } | undefined
  for (const line of readFileSync(`${FIXTURES}/strozfriedberg.ese_parser/esentoutput2.txt`, 'utf8').split(/\r?\n/)) {
    if (line.startsWith('table ')) { cur = { header: [], rows: [] }; out.set(line.slice(6).trim(), cur); continue }
    if (!cur || !line.startsWith('|')) continue
    const cells = line.split('|').slice(1, -1)
    if (!cur.header.length) cur.header = cells.map((c) => c.trim()); else cur.rows.push(cells)
  }
  return out
}

test('esent.dll oracle: 7-bit and XPRESS compressed columns and the catalog of decompress_test.edb', async () => {
  const dump = esentDump()
  const t = dump.get('test_table')!
  const { rows } = await rowsOf('strozfriedberg.ese_parser/decompress_test.edb', 'test_table')
  assert.equal(rows.length, t.rows.length)
  for (let i = 0; i < rows.length; i++) {
    const [u, asc, bin, usual] = t.rows[i]
    assert.equal(rows[i].compressed_unicode, u.replace(/ $/, ''))
    assert.equal(rows[i].compressed_ascii, asc)
    const m = /^\s*(\d+) bytes: ((?:[0-9a-f]{2} )+)/.exec(bin)!
    const b = rows[i].compressed_binary as Buffer
    assert.equal(b.length, Number(m[1]))
    assert.equal(b.subarray(0, 16).toString('hex'), m[2].replace(/ /g, ''))
    assert.equal(rows[i].usual_text, usual.trim())
  }
  // The catalog as esent.dll itself reads it: null fixed columns (by the record's null bitmap) are blank.
  const cat = dump.get('MSysObjects')!
  const { rows: ours } = await rowsOf('strozfriedberg.ese_parser/decompress_test.edb', 'MSysObjects')
  assert.equal(ours.length, cat.rows.length)
  const fixedCols = ['ObjidTable', 'Type', 'Id', 'ColtypOrPgnoFDP', 'SpaceUsage', 'Flags', 'PagesOrLocale', 'RootFlag', 'RecordOffset', 'LCMapFlags', 'KeyMost', 'LVChunkMax', 'Name']
  for (let i = 0; i < ours.length; i++) {
    for (const c of fixedCols) {
      const theirs = cat.rows[i][cat.header.indexOf(c)].trim()
      const v = ours[i][c]
      const mine = v === null ? '' : v === true ? '-1' : v === false ? '0' : String(v)
      assert.equal(mine, theirs, `MSysObjects row ${i} ${c}`)
    }
  }
})

test('esent.dll oracle: decompress_test2.edb holds the same rows with XPRESS-compressed long values', async () => {
  const { rows } = await rowsOf('strozfriedberg.ese_parser/decompress_test2.edb', 'test_table')
  assert.equal(rows.length, 10)
  for (const r of rows) {
    assert.match(r.compressed_ascii as string, /^Record {10,}\d+$/)
    assert.equal(r.compressed_unicode, r.compressed_ascii)
    assert.equal(r.usual_text, r.compressed_ascii)
    assert.equal((r.compressed_binary as Buffer).toString('latin1'), r.compressed_ascii)
  }
})
