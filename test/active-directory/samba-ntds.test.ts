/**
 * The AD layer on a SYNTHETIC ntds.dit-shaped database filled from a real Samba AD DC (Debian's
 * samba, provisioned offline into a temp dir once per run): users, groups, OUs with RFC 4514
 * characters, memberships, deleted objects, the Recycle Bin switched on. The file is written by the
 * test-only ESE writer; Debian's esedbexport must read it. What the AD layer returns must equal the
 * ldbsearch dump of the same directory.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dumpSamba, ldbAdd, ldbDel, ldbModify, provisionSamba, writeNtdsFromLdif, type BuiltNtds } from '../ese-writer/ntds-from-samba.ts'
import { first, text, type LdifRecord } from '../ese-writer/ldif.ts'
import { openEseDatabase } from '../../backend/ese/database.ts'
import { openFileReader } from '../../backend/ese/file-reader.ts'
import { xor32, HEADER_SEED } from '../../backend/ese/checksum.ts'
import { openActiveDirectory, type ActiveDirectory } from '../../backend/active-directory/directory.ts'
import { normalizeDn } from '../../backend/active-directory/dn.ts'

const dir = mkdtempSync(join(tmpdir(), 'stillpoint-ad-samba-'))
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const BASE = 'DC=lab,DC=local'
const PW = Buffer.from('"Secr3t!Pass"', 'utf16le').toString('base64')

let records: LdifRecord[]
let built: BuiltNtds
let ad: ActiveDirectory
const timings: Record<string, number> = {}

before(async () => {
  let t = Date.now()
  provisionSamba(join(dir, 'dc'))
  timings.provision = Date.now() - t; t = Date.now()
  const d = join(dir, 'dc')
  ldbAdd(d, `dn: OU=Sales,${BASE}
objectClass: organizationalUnit
description: Sales people, Paris+Lyon

dn: OU=Staff\\, Temp,OU=Sales,${BASE}
objectClass: organizationalUnit

dn: CN=Alice Martin,OU=Sales,${BASE}
objectClass: user
sAMAccountName: alice
givenName: Alice
sn: Martin
displayName: Alice Martin
userPrincipalName: alice@lab.local
unicodePwd:: ${PW}

dn: CN=Bob\\, Jr.,OU=Staff\\, Temp,OU=Sales,${BASE}
objectClass: user
sAMAccountName: bob

dn: CN=Chloé Dupont,OU=Sales,${BASE}
objectClass: user
sAMAccountName: chloe

dn: CN=Dan #2,OU=Staff\\, Temp,OU=Sales,${BASE}
objectClass: user
sAMAccountName: dan2

dn: CN=Sales Team,OU=Sales,${BASE}
objectClass: group
sAMAccountName: sales-team
member: CN=Alice Martin,OU=Sales,${BASE}
member: CN=Bob\\, Jr.,OU=Staff\\, Temp,OU=Sales,${BASE}
member: CN=Chloé Dupont,OU=Sales,${BASE}
member: CN=Dan #2,OU=Staff\\, Temp,OU=Sales,${BASE}

dn: CN=Managers,OU=Sales,${BASE}
objectClass: group
sAMAccountName: managers
member: CN=Alice Martin,OU=Sales,${BASE}
member: CN=Sales Team,OU=Sales,${BASE}
`)
  ldbDel(d, `CN=Bob\\, Jr.,OU=Staff\\, Temp,OU=Sales,${BASE}`)
  ldbModify(d, `dn: CN=Partitions,CN=Configuration,${BASE}
changetype: modify
add: msDS-EnabledFeature
msDS-EnabledFeature: CN=Recycle Bin Feature,CN=Optional Features,CN=Directory Service,CN=Windows NT,CN=Services,CN=Configuration,${BASE}
`)
  ldbDel(d, `CN=Chloé Dupont,OU=Sales,${BASE}`)
  timings.populate = Date.now() - t; t = Date.now()
  records = dumpSamba(d).records
  timings.dump = Date.now() - t; t = Date.now()
  built = writeNtdsFromLdif(records, join(dir, 'ntds.dit'))
  timings.write = Date.now() - t; t = Date.now()
  ad = await openActiveDirectory(await openEseDatabase(openFileReader(built.file)))
  timings.open = Date.now() - t
  process.stderr.write(`samba-ntds timings (ms): ${JSON.stringify(timings)}; ${records.length} objects, ${built.links} links, ${built.omitted.length} omitted values\n`)
})

const rec = (sam: string) => records.find((r) => first(r, 'sAMAccountName') === sam)!

test('the synthetic ntds.dit is read by esedbexport: datatable, link_table, sd_table with the same rows', () => {
  execFileSync('esedbexport', ['-t', `${built.file}.oracle`, built.file], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 })
  const exp = readdirSync(`${built.file}.oracle.export`)
  const table = (name: string) => readFileSync(join(`${built.file}.oracle.export`, exp.find((f) => f.startsWith(`${name}.`))!), 'utf8').split('\n').filter(Boolean)
  const dt = table('datatable')
  assert.equal(table('link_table').length - 1, built.links)
  assert.deepEqual(table('sd_table'), ['sd_id\tsd_hash\tsd_refcount\tsd_value'])
  const header = dt[0].split('\t')
  // Every Samba object, plus $NOT_AN_OBJECT1$, $ROOT_OBJECT$ and the DC=local phantom.
  assert.equal(dt.length - 1, records.length + 3)
  const col = (n: string) => header.indexOf(n)
  const alice = dt.find((l) => l.split('\t')[col('ATTm590045')] === 'alice')!.split('\t')
  assert.equal(alice[col('ATTm589825')], 'Alice Martin')
  assert.equal(Number(alice[col('DNT_col')]), built.dntByDn.get(`CN=Alice Martin,OU=Sales,${BASE}`))
  assert.equal(Number(alice[col('PDNT_col')]), built.dntByDn.get(`OU=Sales,${BASE}`))
  const g = first(rec('alice'), 'objectGUID')!.split('-')
  const le = (h: string) => Buffer.from(h, 'hex').reverse().toString('hex')
  assert.equal(alice[col('ATTk589826')], le(g[0]) + le(g[1]) + le(g[2]) + g[3] + g[4])
  // The RID is stored big-endian (as Windows does), the rest of the SID little-endian.
  const rid = Number(first(rec('alice'), 'objectSid')!.split('-').at(-1))
  assert.equal(alice[col('ATTr589970')].slice(-8), rid.toString(16).padStart(8, '0'))
})

test('every object of the Samba dump: same DN, objectGUID, objectSid, sAMAccountName, deleted state and lastKnownParent', async () => {
  let deleted = 0
  for (const r of records) {
    const o = (await ad.get(r.dn)).result
    assert.equal(normalizeDn(o.dn), normalizeDn(r.dn), r.dn)
    assert.equal(o.objectGUID, first(r, 'objectGUID'), r.dn)
    assert.equal(o.objectSid, first(r, 'objectSid'), r.dn)
    assert.equal(o.sAMAccountName, first(r, 'sAMAccountName'), r.dn)
    assert.equal(o.deleted, first(r, 'isDeleted') === 'TRUE', r.dn)
    if (o.deleted) deleted++
    const lkp = first(r, 'lastKnownParent')
    assert.equal(o.lastKnownParent && normalizeDn(o.lastKnownParent), lkp && normalizeDn(lkp), r.dn)
    assert.deepEqual(o.objectClass.slice().sort(), text(r, 'objectClass').sort(), r.dn)
    assert.equal((await ad.get(o.objectGUID!)).result.dnt, o.dnt)
  }
  assert.ok(deleted >= 3, `${deleted} deleted objects`) // Bob, Chloé and Samba's own tombstones
  const bob = (await ad.search({ sAMAccountName: 'bob', includeDeleted: true })).result
  assert.equal(bob.length, 1)
  assert.match(bob[0].dn, /^CN=Bob\\, Jr\.\\0ADEL:[0-9a-f-]{36},CN=Deleted Objects,DC=lab,DC=local$/)
  assert.equal(bob[0].lastKnownParent, `OU=Staff\\, Temp,OU=Sales,${BASE}`)
  assert.equal((await ad.search({ sAMAccountName: 'bob' })).result.length, 0, 'deleted objects only when asked for')
})

test('memberships: member from link_table and memberOf derived equal the dump', async () => {
  const norm = (v: unknown) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => normalizeDn(String(x))).sort())
  let compared = 0
  for (const r of records) {
    const members = text(r, 'member'), memberOf = text(r, 'memberOf')
    if (!members.length && !memberOf.length) continue
    const o = (await ad.get(r.dn)).result
    assert.deepEqual(norm(o.attributes.member), norm(members), `member of ${r.dn}`)
    assert.deepEqual(norm(o.attributes.memberOf), norm(memberOf), `memberOf of ${r.dn}`)
    compared++
  }
  assert.ok(compared > 20, `${compared} objects with memberships`)
  const team = (await ad.get(`CN=Sales Team,OU=Sales,${BASE}`)).result
  assert.deepEqual(norm(team.attributes.member), norm([`CN=Alice Martin,OU=Sales,${BASE}`, `CN=Dan #2,OU=Staff\\, Temp,OU=Sales,${BASE}`]))
  assert.deepEqual(norm(team.attributes.memberOf), norm([`CN=Managers,OU=Sales,${BASE}`]))
})

test('password hashes and other secrets are never returned, and every answer carries the database state', async () => {
  const alice = (await ad.get(`CN=Alice Martin,OU=Sales,${BASE}`))
  assert.equal(alice.consistency.state, 'clean')
  assert.ok(alice.result.withheld.includes('unicodePwd'), `withheld: ${alice.result.withheld}`)
  // Kerberos keys (stored as a long value in the synthetic file) are withheld too.
  assert.ok(rec('alice').attrs.has('supplementalCredentials'))
  assert.ok(alice.result.withheld.includes('supplementalCredentials'), `withheld: ${alice.result.withheld}`)
  const secrets = ['unicodePwd', 'dBCSPwd', 'ntPwdHistory', 'lmPwdHistory', 'supplementalCredentials', 'pekList', 'currentValue', 'priorValue', 'trustAuthIncoming', 'trustAuthOutgoing']
  for (const r of records) {
    const o = (await ad.get(r.dn)).result
    for (const s of secrets) assert.equal(o.attributes[s], undefined, `${s} of ${r.dn}`)
  }
  // The hash bytes themselves appear nowhere in any answer.
  const dumped = JSON.stringify(await Promise.all(records.map(async (r) => (await ad.get(r.dn)).result)))
  for (const r of records) for (const s of ['unicodePwd', 'ntPwdHistory']) for (const v of r.attrs.get(s) ?? []) {
    assert.ok(!dumped.includes(v.toString('hex')) && !dumped.includes(v.toString('base64')), `${s} of ${r.dn} leaked`)
  }
  await assert.rejects(ad.search({ attribute: { name: 'unicodePwd', value: '*' } }), /secret/)
  for (const a of [await ad.search({ text: 'alice' }), await ad.children(BASE), await ad.roots(), await ad.recycleBin()]) assert.equal(a.consistency.state, 'clean')
})

test('browse, search, decoded values and the Recycle Bin state', async () => {
  assert.deepEqual((await ad.roots()).result.map((o) => o.dn), [BASE])
  const underDomain = (await ad.children(BASE)).result.map((o) => o.name)
  assert.ok(underDomain.includes('Configuration') && underDomain.includes('Users'), `${underDomain}`)
  const sales = (await ad.children(`OU=Sales,${BASE}`)).result.map((o) => o.name).sort()
  assert.deepEqual(sales, ['Alice Martin', 'Managers', 'Sales Team', 'Staff, Temp'])
  assert.deepEqual((await ad.children(`ou=staff\\, temp,ou=sales,dc=LAB,dc=local`)).result.map((o) => o.sAMAccountName), ['dan2'])
  assert.deepEqual((await ad.search({ text: 'martin' })).result.map((o) => o.sAMAccountName), ['alice'])
  assert.deepEqual((await ad.search({ objectClass: 'group', base: `OU=Sales,${BASE}` })).result.map((o) => o.name).sort(), ['Managers', 'Sales Team'])
  assert.deepEqual((await ad.search({ attribute: { name: 'givenName', value: 'alice' } })).result.map((o) => o.sAMAccountName), ['alice'])
  assert.deepEqual((await ad.search({ attribute: { name: 'description', value: 'Sales people, Paris+Lyon' } })).result.map((o) => o.dn), [`OU=Sales,${BASE}`])
  const a = (await ad.get(`CN=Alice Martin,OU=Sales,${BASE}`)).result
  const r = rec('alice')
  assert.equal(a.attributes.userPrincipalName, 'alice@lab.local')
  assert.equal(a.attributes.userAccountControl, Number(first(r, 'userAccountControl')))
  assert.equal(a.attributes.objectCategory, `CN=Person,CN=Schema,CN=Configuration,${BASE}`)
  const wc = first(r, 'whenCreated')!
  assert.equal(a.attributes.whenCreated, `${wc.slice(0, 4)}-${wc.slice(4, 6)}-${wc.slice(6, 8)}T${wc.slice(8, 10)}:${wc.slice(10, 12)}:${wc.slice(12, 14)}.000Z`)
  const pls = BigInt(first(r, 'pwdLastSet')!)
  assert.equal(a.attributes.pwdLastSet, new Date(Number(pls / 10000n) - 11644473600000).toISOString())
  assert.equal(a.attributes.accountExpires, 'never')
  assert.equal(a.attributes.objectSid, first(r, 'objectSid'))
  const rb = (await ad.recycleBin()).result
  assert.equal(rb.enabled, true)
  assert.deepEqual(rb.enabledOn.map(normalizeDn), [normalizeDn(`CN=Partitions,CN=Configuration,${BASE}`)])
  await assert.rejects(ad.get(`CN=Nobody,${BASE}`), /no object/)
})

test('a dirty ntds.dit (the normal VSS case) is read as it stands and every answer says so', async () => {
  const bytes = readFileSync(built.file)
  const ps = bytes.readUInt32LE(236)
  for (const at of [0, ps]) {
    bytes.writeUInt32LE(2, at + 52) // dirty shutdown
    bytes.writeInt32LE(41, at + 296); bytes.writeInt32LE(44, at + 300)
    bytes.writeUInt32LE(xor32(bytes.subarray(at, at + ps), 4, ps, HEADER_SEED), at)
  }
  const dirtyFile = join(dir, 'dirty.dit')
  writeFileSync(dirtyFile, bytes)
  const dirty = await openActiveDirectory(await openEseDatabase(openFileReader(dirtyFile)))
  const answer = (await dirty.get(`CN=Alice Martin,OU=Sales,${BASE}`))
  assert.equal(answer.consistency.state, 'dirty')
  assert.deepEqual(answer.consistency.requiredLogs, { min: 41, max: 44 })
  assert.equal(answer.result.sAMAccountName, 'alice')
  assert.equal((await dirty.search({ text: 'alice' })).consistency.state, 'dirty')
})

test('CLI: stillpoint ad ls|find|show|recycle-bin on the ntds.dit file, --help and --json', () => {
  const cli = (...args: string[]) => execFileSync(process.execPath, ['bin/stillpoint.mjs', 'ad', ...args], { encoding: 'utf8', timeout: 60_000 })
  assert.match(cli('--help'), /usage: stillpoint ad <command> FILE/)
  assert.match(cli('ls', built.file), /domainDNS\s+DC=lab,DC=local/)
  const found = JSON.parse(cli('find', built.file, '--deleted', '--sam', 'bob', '--json'))
  assert.equal(found.consistency.state, 'clean')
  assert.equal(found.result[0].objectSid, first(rec('bob'), 'objectSid'))
  const shown = cli('show', built.file, first(rec('alice'), 'objectGUID')!)
  assert.match(shown, /^dn: CN=Alice Martin,OU=Sales,DC=lab,DC=local$/m)
  assert.match(shown, /^sAMAccountName: alice$/m)
  assert.match(shown, /^memberOf: CN=Managers,OU=Sales,DC=lab,DC=local$/m)
  assert.match(shown, /withheld \(secrets, never shown\): .*unicodePwd/)
  assert.doesNotMatch(shown, /^unicodePwd:/m)
  assert.match(cli('recycle-bin', built.file), /^on \(enabled on CN=Partitions,CN=Configuration,DC=lab,DC=local\)/)
  assert.throws(() => cli('show', built.file, 'CN=Nobody'), /no object "CN=Nobody"/)
})
