/**
 * The test-only ESE writer against the independent oracle: a database it writes counts only when
 * Debian's esedbexport (libesedb) reads back the same values. Our own reader must agree too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeEseDatabase, COLTYP, type WTable } from './writer.ts'
import { openEseDatabase } from '../../backend/ese/database.ts'
import { openFileReader } from '../../backend/ese/file-reader.ts'

const dir = mkdtempSync(join(tmpdir(), 'stillpoint-ese-writer-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))

function exportTables(file: string): Map<string, { header: string[]; rows: string[][] }> {
  const target = `${file}.oracle`
  execFileSync('esedbexport', ['-t', target, file], { stdio: 'ignore', timeout: 120_000 })
  const out = new Map<string, { header: string[]; rows: string[][] }>()
  for (const f of readdirSync(`${target}.export`)) {
    const lines = readFileSync(join(`${target}.export`, f), 'utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    out.set(f.replace(/\.\d+$/, ''), { header: lines[0].split('\t'), rows: lines.slice(1).map((l) => l.split('\t')) })
  }
  return out
}

function sample(n: number): WTable {
  return {
    name: 'people',
    columns: [
      { name: 'id', type: COLTYP.Long }, { name: 'active', type: COLTYP.Bit }, { name: 'score', type: COLTYP.LongLong },
      { name: 'ratio', type: COLTYP.IEEEDouble }, { name: 'ref', type: COLTYP.GUID },
      { name: 'login', type: COLTYP.Text }, { name: 'blob', type: COLTYP.Binary },
      { name: 'fullName', type: COLTYP.LongText, codepage: 1200 }, { name: 'aliases', type: COLTYP.LongText, codepage: 1200, multi: true },
      { name: 'codes', type: COLTYP.Long, multi: true }, { name: 'doc', type: COLTYP.LongBinary },
    ],
    rows: Array.from({ length: n }, (_, i) => ({
      id: i + 1, active: i % 3 === 0, score: BigInt(i) * 9_000_000_001n - 5n, ratio: i / 4,
      ref: Buffer.from(Array.from({ length: 16 }, (_x, k) => (i * 7 + k) & 255)),
      login: i % 10 === 0 ? null : `user${i}`, blob: Buffer.from([i & 255, 0xfe, 0]),
      fullName: `Zoë Ñandú ${i}`, aliases: i % 4 === 0 ? [] : i % 4 === 1 ? [`a${i}`] : [`a${i}`, `b${i}`, `ç${i}`],
      codes: i % 2 ? [i, -i, 7] : null,
      // Over LONG_VALUE_MIN: stored in the table's long-value tree, in chunks.
      doc: i % 40 === 0 ? Buffer.alloc(3000 + i * 10, i & 255) : Buffer.from(`small ${i}`),
    })),
  }
}

for (const pageSize of [4096, 8192] as const) {
  test(`writer: ${pageSize / 1024} KiB pages, 2-level tree, fixed/variable/tagged/multi-valued columns read back by esedbexport and our reader`, async () => {
    const file = join(dir, `sample-${pageSize}.edb`)
    const t = sample(pageSize === 4096 ? 600 : 900)
    writeEseDatabase(file, [t, { name: 'empty', columns: [{ name: 'x', type: COLTYP.Long }], rows: [] }], { pageSize })
    const oracle = exportTables(file)
    assert.deepEqual([...oracle.keys()].sort(), ['MSysObjects', 'MSysObjectsShadow', 'empty', 'people'])
    const people = oracle.get('people')!
    assert.deepEqual(people.header, t.columns.map((c) => c.name))
    assert.equal(people.rows.length, t.rows.length)
    assert.equal(oracle.get('empty')!.rows.length, 0)
    t.rows.forEach((r, i) => {
      const o = people.rows[i]
      const col = (n: string) => o[people.header.indexOf(n)]
      assert.equal(col('id'), String(r.id))
      assert.equal(col('active'), r.active ? 'true' : 'false')
      assert.equal(col('score'), String(r.score))
      assert.equal(col('login'), (r.login as string | null) ?? '')
      assert.equal(col('blob'), (r.blob as Buffer).toString('hex'))
      assert.equal(col('fullName'), r.fullName)
      assert.equal(col('aliases'), (r.aliases as string[]).join('; '), `row ${i}`)
      // esedbexport 20181229 prints separated long values empty, as it does for Windows' own files
      // (test/ese/esedbexport.test.ts); our reader is checked on them below.
      assert.equal(col('doc'), (r.doc as Buffer).length >= 1024 ? '' : (r.doc as Buffer).toString('hex'))
    })
    // A 2-level tree at least: more leaf pages than one.
    const db = await openEseDatabase(openFileReader(file))
    assert.equal(db.info().consistency.state, 'clean')
    assert.deepEqual(db.info().badChecksumPages, [])
    assert.ok(db.info().pageCount > 10, `${db.info().pageCount} pages`)
    let i = 0
    for await (const row of db.rows('people')) {
      const r = t.rows[i++]
      assert.deepEqual(row.problems, [])
      assert.equal(row.values.id, r.id)
      assert.equal(row.values.score, r.score)
      assert.equal(row.values.ratio, r.ratio)
      assert.deepEqual(row.values.aliases, (r.aliases as string[]).length ? r.aliases : null)
      assert.deepEqual(row.values.codes, r.codes)
      assert.equal(row.values.fullName, r.fullName)
      assert.deepEqual(row.values.doc, r.doc)
      if ((r.doc as Buffer).length >= 1024) assert.equal(row.storage.doc?.separated, true)
    }
    assert.equal(i, t.rows.length)
  })
}

test('writer: a 3-level tree (20,000 rows on 4 KiB pages) is read whole by esedbexport and our reader', async () => {
  const file = join(dir, 'deep.edb')
  const rows = Array.from({ length: 20_000 }, (_, i) => ({ id: i + 1, txt: `row number ${i} `.repeat(8) }))
  writeEseDatabase(file, [{ name: 'deep', columns: [{ name: 'id', type: COLTYP.Long }, { name: 'txt', type: COLTYP.LongText, codepage: 1200 }], rows }], { pageSize: 4096 })
  const deep = exportTables(file).get('deep')!
  assert.equal(deep.rows.length, rows.length)
  for (const k of [0, 1234, 19_999]) assert.deepEqual(deep.rows[k], [String(k + 1), rows[k].txt])
  const db = await openEseDatabase(openFileReader(file))
  assert.equal(await db.rowCount('deep'), rows.length)
  assert.ok(db.info().pageCount > 1000, `${db.info().pageCount} pages`)
})
