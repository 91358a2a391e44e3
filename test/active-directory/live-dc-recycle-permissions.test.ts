/**
 * `stillpoint ad restore` against LIVE Samba AD DCs, on what the other live tests leave out:
 * - the Recycle Bin state of the live forest and the reanimation path the restore took (tombstone
 *   reanimation with it off; with it on, Samba 4.17 refuses to reanimate and the refusal says why);
 * - security descriptors: an explicit ACE given to a user (samba-tool dsacl) is in the backup's sd_table
 *   and is back after the user is deleted and reanimated (Samba's tombstone kept it), after it was removed
 *   from a live object, and on a user recreated after its tombstone was expunged (the DC gave it defaults).
 * The ntds.dit is SYNTHETIC (test ESE writer, from the DC's own directory; binary descriptors read over
 * LDAP with the SD_FLAGS control, as the dump prints them as SDDL).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Attribute, Change, Control, type BerWriter, type Client } from 'ldapts'
import { startSambaDc, type SambaDc } from '../helpers/samba-dc.ts'
import { dumpSamba, writeNtdsFromLdif } from '../ese-writer/ntds-from-samba.ts'
import { first, type LdifRecord } from '../ese-writer/ldif.ts'
import { guidFromBytes, sidFromLdap } from '../../backend/active-directory/ldap-values.ts'
import { encodeSecurityDescriptor, explicitAces, parseSecurityDescriptor, type SecurityDescriptor } from '../../backend/active-directory/security-descriptor.ts'

const B = 'DC=lab,DC=local'
const pw = (p: string) => Buffer.from(`"${p}"`, 'utf16le')
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` }

/** LDAP_SERVER_SD_FLAGS_OID with owner, group and DACL (7), written here apart from the product's. */
class SdFlags extends Control {
  constructor() { super('1.2.840.113556.1.4.801', { critical: true }) }
  protected override writeControl(w: BerWriter): void { w.writeBuffer(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x07]), 4) }
}

function cli(args: string[], password: string, more: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', 'ad', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, STILLPOINT_AD_PASSWORD: password, ...more } }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err })
    })
  })
}
const live = (dc: SambaDc) => ['--dc', dc.url, '--ca', join(dc.dir, 'private', 'tls', 'ca.pem'), '--server-name', 'DC01.lab.local', '--user', dc.adminUser]

async function sdOf(ldap: Client, dn: string): Promise<SecurityDescriptor> {
  const r = await ldap.search(dn, { scope: 'base', attributes: ['nTSecurityDescriptor'], explicitBufferAttributes: ['nTSecurityDescriptor'] }, [new SdFlags()])
  return parseSecurityDescriptor(r.searchEntries[0]!.nTSecurityDescriptor as Buffer)
}
/** Every object's binary descriptor under the domain, as a backup of the DC holds them. */
async function allSds(ldap: Client): Promise<Map<string, Buffer>> {
  const r = await ldap.search(B, { scope: 'sub', attributes: ['nTSecurityDescriptor'], explicitBufferAttributes: ['nTSecurityDescriptor'], paged: { pageSize: 500 } }, [new SdFlags()])
  return new Map(r.searchEntries.filter((e) => Buffer.isBuffer(e.nTSecurityDescriptor)).map((e) => [e.dn, e.nTSecurityDescriptor as Buffer]))
}
async function entry(ldap: Client, dn: string) {
  const r = await ldap.search(dn, { scope: 'base', attributes: ['*', 'memberOf'], explicitBufferAttributes: ['objectGUID', 'objectSid'] }).catch(() => undefined)
  return r?.searchEntries[0]
}
async function addUser(ldap: Client, dn: string, sam: string, extra: Record<string, string> = {}) {
  await ldap.add(dn, [new Attribute({ type: 'objectClass', values: ['user'] }), new Attribute({ type: 'sAMAccountName', values: [sam] }),
    ...Object.entries(extra).map(([type, v]) => new Attribute({ type, values: [v] })),
    new Attribute({ type: 'unicodePwd', values: [pw(`${sam}-Pass-1!A`)] }), new Attribute({ type: 'userAccountControl', values: ['512'] })])
}
const sidOfEntry = (e: Record<string, unknown>) => sidFromLdap(e.objectSid as Buffer)!

describe('Recycle Bin off: tombstone reanimation, and the explicit ACE back from the backup', () => {
  const ERIN = `CN=Erin Walsh,OU=Eng,${B}`
  const FRANK = `CN=Frank Ode,OU=Eng,${B}`
  const ENG = `CN=Eng Team,OU=Eng,${B}`
  const HANK = `CN=Hank Moss,OU=Eng,${B}`
  let dc: SambaDc, ldap: Client, tmp: string, file: string, records: LdifRecord[], frankSid: string
  let backupSd: SecurityDescriptor

  before(async () => {
    dc = await startSambaDc()
    ldap = await dc.client()
    await ldap.add(`OU=Eng,${B}`, { objectClass: 'organizationalUnit' })
    await addUser(ldap, ERIN, 'erin', { title: 'SRE', telephoneNumber: '+44 20 7946 0000' })
    await addUser(ldap, FRANK, 'frank')
    await ldap.add(ENG, { objectClass: 'group', sAMAccountName: 'eng-team', member: [ERIN] })
    frankSid = sidOfEntry((await entry(ldap, FRANK))!)
    // Frank may read and write Erin's properties: an explicit ACE on Erin, set with Samba's own tool.
    execFileSync('samba-tool', ['dsacl', 'set', '-H', join(dc.dir, 'private', 'sam.ldb'), `--objectdn=${ERIN}`, `--sddl=(A;;RPWP;;;${frankSid})`], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    await addUser(ldap, HANK, 'hank', { title: 'Intern' })
    execFileSync('samba-tool', ['dsacl', 'set', '-H', join(dc.dir, 'private', 'sam.ldb'), `--objectdn=${HANK}`, `--sddl=(A;;RPWP;;;${frankSid})`], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    backupSd = await sdOf(ldap, ERIN)
    assert.ok(explicitAces(backupSd.dacl).some((a) => a.sid === frankSid && a.mask === 0x30), 'samba-tool dsacl set did not add the ACE')
    tmp = mkdtempSync(join(tmpdir(), 'stillpoint-ad-rbperm-'))
    records = dumpSamba(dc.dir).records
    file = writeNtdsFromLdif(records, join(tmp, 'ntds.dit'), { securityDescriptors: await allSds(ldap) }).file
    await ldap.del(ERIN)
  })
  after(async () => {
    await ldap?.unbind().catch(() => undefined)
    await dc?.stop()
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  })

  test('the deleted user comes back from its tombstone with the same objectGUID and objectSid, attributes, membership and its explicit ACE', async () => {
    const rec = records.find((r) => first(r, 'sAMAccountName') === 'erin')!
    const r = await cli(['restore', file, ERIN, ...live(dc), '--json'], dc.adminPassword)
    assert.equal(r.code, 0, r.out + r.err)
    const res = JSON.parse(r.out).results[0]
    assert.equal(res.action, 'reanimated')
    assert.equal(res.reanimatedFrom, 'tombstone')
    assert.equal(res.recycleBin, false)
    assert.deepEqual(res.problems, [])
    const e = (await entry(ldap, ERIN))!
    assert.equal(guidFromBytes(e.objectGUID as Buffer), first(rec, 'objectGUID'))
    assert.equal(sidOfEntry(e), first(rec, 'objectSid'))
    assert.equal(e.title, 'SRE')
    assert.equal(e.telephoneNumber, '+44 20 7946 0000')
    assert.deepEqual([e.memberOf].flat(), [ENG])
    const now = await sdOf(ldap, ERIN)
    const frankAces = explicitAces(now.dacl).filter((a) => a.sid === frankSid)
    assert.deepEqual(frankAces.map((a) => [a.type, a.mask, a.flags]), [[0, 0x30, 0]], 'the ACE given to Frank is back, once')
    assert.equal(now.owner, backupSd.owner)
    assert.equal(now.group, backupSd.group)
    assert.deepEqual(explicitAces(now.dacl).map((a) => a.raw.toString('hex')).sort(), explicitAces(backupSd.dacl).map((a) => a.raw.toString('hex')).sort())
    // Samba's tombstone kept the descriptor (as Windows' does): nothing to write, and the restore says so.
    assert.deepEqual(res.permissions, { status: 'unchanged', changes: [] })
  })

  test('an ACE removed from a live object is written back with --permissions; --no-permissions leaves it removed', async () => {
    const cur = await sdOf(ldap, ERIN)
    const without = { ...cur, dacl: { revision: cur.dacl!.revision, aces: explicitAces(cur.dacl).filter((a) => a.sid !== frankSid) } }
    await ldap.modify(ERIN, new Change({ operation: 'replace', modification: new Attribute({ type: 'nTSecurityDescriptor', values: [encodeSecurityDescriptor(without)] }) }), [new SdFlags()])
    assert.ok(!explicitAces((await sdOf(ldap, ERIN)).dacl).some((a) => a.sid === frankSid), 'the ACE was not removed for the test')

    const skip = await cli(['restore', file, ERIN, ...live(dc), '--no-permissions', '--json'], dc.adminPassword)
    assert.equal(skip.code, 0, skip.out + skip.err)
    assert.equal(JSON.parse(skip.out).results[0].permissions.status, 'not-asked')
    assert.ok(!explicitAces((await sdOf(ldap, ERIN)).dacl).some((a) => a.sid === frankSid))

    const r = await cli(['restore', file, ERIN, ...live(dc), '--permissions', '--json'], dc.adminPassword)
    assert.equal(r.code, 0, r.out + r.err)
    const res = JSON.parse(r.out).results[0]
    assert.equal(res.action, 'updated')
    assert.equal(res.permissions.status, 'restored')
    assert.match(res.permissions.changes.join('\n'), new RegExp(`1 explicit ACE missing \\(allow 0x30 to ${frankSid}\\)`))
    assert.ok(explicitAces((await sdOf(ldap, ERIN)).dacl).some((a) => a.sid === frankSid && a.mask === 0x30))
    const text = await cli(['restore', file, ERIN, ...live(dc), '--permissions'], dc.adminPassword)
    assert.equal(text.code, 0, text.out + text.err)
    assert.doesNotMatch(text.out, /permissions:/, 'nothing left to restore the second time')
  })

  test('a user whose tombstone is gone is recreated and gets its explicit ACE from the backup (the DC gave it only the defaults)', async () => {
    await ldap.del(HANK)
    // Past the tombstone lifetime: Samba's own expunge removes the tombstone for good.
    const later = new Date(Date.now() + 3 * 86400_000).toISOString().slice(0, 10)
    execFileSync('samba-tool', ['domain', 'tombstones', 'expunge', B, '-H', join(dc.dir, 'private', 'sam.ldb'), '--tombstone-lifetime=1', `--current-time=${later}`], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    const gone = await ldap.search(`CN=Deleted Objects,${B}`, { scope: 'one', filter: '(sAMAccountName=hank)' }, [new Control('1.2.840.113556.1.4.417', { critical: true })])
    assert.equal(gone.searchEntries.length, 0, 'the tombstone was not expunged')

    const r = await cli(['restore', file, HANK, ...live(dc), '--new-password-env', 'NEW_PW', '--json'], dc.adminPassword, { NEW_PW: 'Hank-New-Pass-2!' })
    assert.equal(r.code, 0, r.out + r.err)
    const res = JSON.parse(r.out).results[0]
    assert.equal(res.action, 'recreated')
    assert.equal(res.reanimatedFrom, undefined)
    assert.equal(res.permissions.status, 'restored')
    assert.match(res.permissions.changes.join('\n'), new RegExp(`explicit ACE missing \\(allow 0x30 to ${frankSid}\\)`))
    const e = (await entry(ldap, HANK))!
    assert.notEqual(guidFromBytes(e.objectGUID as Buffer), first(records.find((x) => first(x, 'sAMAccountName') === 'hank')!, 'objectGUID'), 'a new object')
    assert.equal(e.title, 'Intern')
    assert.ok(explicitAces((await sdOf(ldap, HANK)).dacl).some((a) => a.sid === frankSid && a.mask === 0x30), "Frank's ACE on Hank is back")
  })
})

describe('Recycle Bin on: the restore sees it on the live forest and says so', () => {
  const GINA = `CN=Gina Hart,OU=Ops,${B}`
  const OPS = `CN=Ops Team,OU=Ops,${B}`
  let dc: SambaDc, ldap: Client, tmp: string, file: string

  before(async () => {
    dc = await startSambaDc({ recycleBin: true })
    ldap = await dc.client()
    await ldap.add(`OU=Ops,${B}`, { objectClass: 'organizationalUnit' })
    await addUser(ldap, GINA, 'gina', { title: 'Operator' })
    await ldap.add(OPS, { objectClass: 'group', sAMAccountName: 'ops-team', member: [GINA] })
    tmp = mkdtempSync(join(tmpdir(), 'stillpoint-ad-rbon-'))
    file = writeNtdsFromLdif(dumpSamba(dc.dir).records, join(tmp, 'ntds.dit'), { securityDescriptors: await allSds(ldap) }).file
    await ldap.del(GINA)
  })
  after(async () => {
    await ldap?.unbind().catch(() => undefined)
    await dc?.stop()
    if (tmp) rmSync(tmp, { recursive: true, force: true })
  })

  test('the backup and the live forest both have the Recycle Bin on; the deleted user kept its attributes on the DC', async () => {
    const rb = await cli(['recycle-bin', file], '')
    assert.equal(rb.code, 0, rb.err)
    assert.match(rb.out, /^on \(enabled on .*CN=Partitions,CN=Configuration,DC=lab,DC=local/)
    const del = await ldap.search(`CN=Deleted Objects,${B}`, { scope: 'one', filter: '(sAMAccountName=gina)', attributes: ['title', 'isRecycled', 'msDS-LastKnownRDN', 'lastKnownParent'] },
      [new Control('1.2.840.113556.1.4.417', { critical: true })])
    const g = del.searchEntries[0]!
    assert.equal(g.title, 'Operator', 'a Recycle Bin deleted object keeps its attributes')
    assert.equal(g['msDS-LastKnownRDN'], 'Gina Hart')
    assert.equal(g.lastKnownParent, `OU=Ops,${B}`)
  })

  test('reanimation is attempted as a Recycle Bin reanimation; Samba 4.17 refuses it and the report says why and what to do', async () => {
    const r = await cli(['restore', file, GINA, ...live(dc)], dc.adminPassword)
    assert.equal(r.code, 1, r.out + r.err)
    assert.match(r.err, /the directory answered noSuchAttribute \(16\)/)
    assert.match(r.err, /The Recycle Bin of this forest is on, and the DC refused to reanimate the deleted object CN=Gina Hart\\0ADEL:/)
    assert.equal(await entry(ldap, GINA), undefined, 'nothing half restored')
  })
})
