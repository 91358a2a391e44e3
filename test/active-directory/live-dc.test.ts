/**
 * Active Directory item restore end to end, against a LIVE Samba AD DC (Debian's samba, serving
 * LDAPS on a loopback address of its own) and the lab vCenter:
 *   the DC's directory → a SYNTHETIC ntds.dit (test ESE writer) → the NTFS disk of lab VM "dc01"
 *   (NTDS writer in its VSS manifest) → backed up through the service → found through the restore
 *   point's manifest and NTFS → ESE → objects; then compare with the live DC and restore into it
 *   over LDAPS with the user's own credentials, through the API and through the UI's
 *   "Restore AD objects…" wizard (Chromium).
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Attribute, Change, Control, type BerWriter, type Client } from 'ldapts'
import { startSambaDc, type SambaDc } from '../helpers/samba-dc.ts'
import { startTestService, type TestService } from '../helpers/service.ts'
import { connectToLab } from '../helpers/lab-vsphere.ts'
import { dumpSamba, writeNtdsFromLdif } from '../ese-writer/ntds-from-samba.ts'
import { first, type LdifRecord } from '../ese-writer/ldif.ts'
import { buildDc01Image, createDc01 } from './dc01.ts'
import { guidFromBytes, sidFromLdap } from '../../backend/active-directory/ldap-values.ts'
import { explicitAces, parseSecurityDescriptor } from '../../backend/active-directory/security-descriptor.ts'
import type { AdComparison, AdConnection, AdDatabaseInfo, AdRestoreReport, ApiError, JobRun, RestorePoint } from '../../backend/api/contract.ts'
import { chromium } from 'playwright-core'
import { ensureUiBuilt } from '../helpers/ui-build.ts'
import { CHROMIUM, newPage } from '../helpers/devhost-page.ts'

let dc: SambaDc
let t: TestService
let admin: string
let rp: string
let records: LdifRecord[]
let tmp: string
let ldap: Client
let dc01Id: string
const timings: Record<string, number> = {}

const pw = (p: string) => Buffer.from(`"${p}"`, 'utf16le')
const B = 'DC=lab,DC=local'
const ALICE = `CN=Alice Martin,OU=Sales,${B}`
const BOB = `CN=Bob Stone,OU=Sales,${B}`
const TEAM = `CN=Sales Team,OU=Sales,${B}`
const HELPDESK_PASSWORD = 'Helpdesk-Pass-1!'

const connection = (who: 'admin' | 'helpdesk' = 'admin'): AdConnection => ({
  url: dc.url, serverName: 'DC01.lab.local', caPem: readFileSync(join(dc.dir, 'private', 'tls', 'ca.pem'), 'utf8'),
  ...(who === 'admin' ? { username: dc.adminUser, password: dc.adminPassword } : { username: 'helpdesk@lab.local', password: HELPDESK_PASSWORD }),
})

async function liveEntry(dn: string, attributes = ['*', 'memberOf']) {
  const r = await ldap.search(dn, { scope: 'base', attributes, explicitBufferAttributes: ['objectGUID', 'objectSid'] }).catch(() => undefined)
  return r?.searchEntries[0]
}
/** SD_FLAGS (owner, group, DACL): nTSecurityDescriptor is returned only with it. */
class SdFlags extends Control {
  constructor() { super('1.2.840.113556.1.4.801', { critical: true }) }
  protected override writeControl(w: BerWriter): void { w.writeBuffer(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x07]), 4) }
}
async function sds(base: string, scope: 'base' | 'sub') {
  const r = await ldap.search(base, { scope, attributes: ['nTSecurityDescriptor'], explicitBufferAttributes: ['nTSecurityDescriptor'], paged: scope === 'sub' ? { pageSize: 500 } : false }, [new SdFlags()])
  return new Map(r.searchEntries.filter((e) => Buffer.isBuffer(e.nTSecurityDescriptor)).map((e) => [e.dn, e.nTSecurityDescriptor as Buffer]))
}
let bobSid: string
const values = (v: unknown) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String))

before(async () => {
  ensureUiBuilt()
  let t0 = Date.now()
  dc = await startSambaDc()
  timings.dc = Date.now() - t0; t0 = Date.now()
  ldap = await dc.client()
  await ldap.add(`OU=Sales,${B}`, { objectClass: 'organizationalUnit', description: 'Sales people, Paris+Lyon' })
  await ldap.add(ALICE, [
    new Attribute({ type: 'objectClass', values: ['user'] }), new Attribute({ type: 'sAMAccountName', values: ['alice'] }),
    new Attribute({ type: 'givenName', values: ['Alice'] }), new Attribute({ type: 'sn', values: ['Martin'] }),
    new Attribute({ type: 'displayName', values: ['Alice Martin'] }), new Attribute({ type: 'telephoneNumber', values: ['+33 1 23 45 67 89'] }),
    new Attribute({ type: 'title', values: ['Account manager'] }), new Attribute({ type: 'userPrincipalName', values: ['alice@lab.local'] }),
    new Attribute({ type: 'unicodePwd', values: [pw('Alice-Pass-1!')] }), new Attribute({ type: 'userAccountControl', values: ['512'] }),
  ])
  await ldap.add(BOB, [new Attribute({ type: 'objectClass', values: ['user'] }), new Attribute({ type: 'sAMAccountName', values: ['bob'] }),
    new Attribute({ type: 'description', values: ['Field sales'] }), new Attribute({ type: 'unicodePwd', values: [pw('Bob-Pass-1!')] }),
    new Attribute({ type: 'userAccountControl', values: ['512'] })])
  await ldap.add(TEAM, { objectClass: 'group', sAMAccountName: 'sales-team', member: [ALICE, BOB] })
  await ldap.add(`CN=Helpdesk,CN=Users,${B}`, [new Attribute({ type: 'objectClass', values: ['user'] }), new Attribute({ type: 'sAMAccountName', values: ['helpdesk'] }),
    new Attribute({ type: 'unicodePwd', values: [pw(HELPDESK_PASSWORD)] }), new Attribute({ type: 'userAccountControl', values: ['512'] })])
  // Bob may read and write Alice's properties: an explicit ACE on Alice (Samba's own tool), which the restore must bring back.
  bobSid = sidFromLdap((await liveEntry(BOB))!.objectSid as Buffer)!
  execFileSync('samba-tool', ['dsacl', 'set', '-H', join(dc.dir, 'private', 'sam.ldb'), `--objectdn=${ALICE}`, `--sddl=(A;;RPWP;;;${bobSid})`],
    { env: { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` }, stdio: ['ignore', 'ignore', 'pipe'] })
  timings.populate = Date.now() - t0; t0 = Date.now()
  tmp = mkdtempSync(join(tmpdir(), 'stillpoint-live-dc-'))
  records = dumpSamba(dc.dir).records
  // The dump prints descriptors as SDDL: the synthetic ntds.dit's sd_table gets the binary ones, read over LDAP.
  const built = writeNtdsFromLdif(records, join(tmp, 'ntds.dit'), { securityDescriptors: await sds(B, 'sub') })
  buildDc01Image(built.file, join(tmp, 'dc01.img'))
  timings.image = Date.now() - t0; t0 = Date.now()
  t = await startTestService()
  admin = await t.login()
  const vs = await connectToLab(t.lab)
  const dc01 = await createDc01(t.lab, vs, join(tmp, 'dc01.img'))
  await vs.close()
  dc01Id = dc01.value
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [dc01.value] } })
  assert.equal(b.status, 202, JSON.stringify(b.body))
  const run = await t.waitRun(admin, b.body.id, 180_000)
  assert.equal(run.status, 'success', JSON.stringify(run))
  assert.equal(run.vms[0]!.consistency, 'application', JSON.stringify(run.vms[0]))
  rp = run.vms[0]!.restorePointId!
  timings.backup = Date.now() - t0; t0 = Date.now()
  // After the backup, in the live directory: a user deleted, another removed from a group.
  await ldap.del(ALICE)
  await ldap.modify(TEAM, new Change({ operation: 'delete', modification: new Attribute({ type: 'member', values: [BOB] }) }))
  process.stderr.write(`live-dc timings (ms): ${JSON.stringify(timings)}\n`)
})
after(async () => {
  await ldap?.unbind().catch(() => undefined)
  await t?.stop()
  await dc?.stop()
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

const rec = (sam: string) => records.find((r) => first(r, 'sAMAccountName') === sam)!
const api = <T>(method: string, path: string, body?: unknown) => t.call<T>(method, `/api/restore-points/${rp}${path}`, { token: admin, ...(body ? { body } : {}) })

test("dc01's restore point: the NTDS writer's ntds.dit and logs found through its NTFS volume, the synthetic directory opened from the backup", async () => {
  const info = await api<AdDatabaseInfo>('GET', '/ad')
  assert.equal(info.status, 200, JSON.stringify(info.body))
  assert.equal(info.body.path, 'C:\\Windows\\NTDS\\ntds.dit')
  assert.match(info.body.volumeId, /^\d+-p1$/)
  assert.deepEqual(info.body.logs.map((l) => l.name), ['edb.log', 'edb00001.log'])
  assert.equal(info.body.consistency.state, 'clean')
  assert.deepEqual(info.body.roots.map((r) => r.dn), [B])
  assert.ok(info.body.objectCount >= records.length, `${info.body.objectCount} objects, ${records.length} in the dump`)
  const found = await api<{ result: { dn: string; objectGUID: string }[] }>('GET', '/ad/search?text=alice')
  assert.deepEqual(found.body.result.map((o) => [o.dn, o.objectGUID]), [[ALICE, first(rec('alice'), 'objectGUID')]])
  const obj = await api<{ result: { attributes: Record<string, unknown>; withheld: string[] } }>('GET', `/ad/object?ref=${encodeURIComponent(ALICE)}`)
  assert.equal(obj.body.result.attributes.telephoneNumber, '+33 1 23 45 67 89')
  assert.ok(obj.body.result.withheld.includes('unicodePwd'))
  assert.equal(obj.body.result.attributes.unicodePwd, undefined)
  const ldif = await t.call<string>('GET', `/api/restore-points/${rp}/ad/ldif?ref=${encodeURIComponent(`OU=Sales,${B}`)}&subtree=true`, { token: admin })
  assert.equal(ldif.status, 200)
  assert.match(ldif.body, new RegExp(`^dn: ${ALICE}$`, 'm'))
  assert.match(ldif.body, /^sAMAccountName: alice$/m)
  assert.match(ldif.body, /^member: CN=Bob Stone,OU=Sales,DC=lab,DC=local$/m)
  assert.doesNotMatch(ldif.body, /unicodePwd:|supplementalCredentials:|ntPwdHistory:/)
  for (const v of rec('alice').attrs.get('unicodePwd') ?? []) assert.ok(!ldif.body.includes(v.toString('base64')), 'the password hash leaked into the LDIF')
})

test('compare with the live DC: the deleted user and the membership removed since the backup', async () => {
  const r = await api<AdComparison>('POST', '/ad/compare', { ref: `OU=Sales,${B}`, subtree: true, connection: connection() })
  assert.equal(r.status, 200, JSON.stringify(r.body))
  const by = (dn: string) => r.body.objects.find((o) => o.dn === dn)!
  assert.equal(by(ALICE).status, 'deleted')
  assert.match(by(ALICE).liveDn!, /^CN=Alice Martin\\0ADEL:[0-9a-f-]{36},CN=Deleted Objects,DC=lab,DC=local$/)
  assert.deepEqual(by(ALICE).memberOf.removed, [TEAM])
  assert.equal(by(BOB).status, 'changed')
  assert.deepEqual(by(BOB).memberOf, { removed: [TEAM], added: [] })
  assert.deepEqual(by(BOB).attributes, [])
  assert.equal(by(TEAM).status, 'changed')
  assert.deepEqual(by(TEAM).members.removed, [ALICE, BOB])
  assert.equal(by(`OU=Sales,${B}`).status, 'unchanged')
  assert.deepEqual(r.body.summary, { unchanged: 1, changed: 2, deleted: 1, missing: 0 })
  const bad = await api<ApiError>('POST', '/ad/compare', { ref: ALICE, connection: { ...connection(), password: 'wrong-password' } })
  assert.equal(bad.status, 400, JSON.stringify(bad.body))
  assert.match(JSON.stringify(bad.body), /invalidCredentials \(49\)/)
})

test('a restore as a user without the rights is refused by the directory and reported with the LDAP result', async () => {
  const r = await api<JobRun>('POST', '/ad/restore', { objects: [ALICE], connection: connection('helpdesk') })
  assert.equal(r.status, 202, JSON.stringify(r.body))
  const run = await t.waitRun(admin, r.body.id, 120_000)
  assert.equal(run.status, 'failed', JSON.stringify(run))
  assert.match(run.vms[0]!.message ?? '', /insufficientAccessRights \(50\)/)
  const rep = await t.call<AdRestoreReport>('GET', `/api/ad-restores/${r.body.id}`, { token: admin })
  assert.equal(rep.status, 200, JSON.stringify(rep.body))
  assert.equal(rep.body.status, 'failed')
  assert.deepEqual([rep.body.error?.status, rep.body.error?.ldapCode, rep.body.error?.ldapResult], [403, 50, 'insufficientAccessRights'])
  assert.equal(await liveEntry(ALICE), undefined, 'nothing was restored')
})

test('UI: the restore point offers "Restore AD objects…"; search, details, compare and a restore of the removed membership through the wizard', async () => {
  const en = JSON.parse(readFileSync(new URL('../../ui/src/app/i18n/en-US.json', import.meta.url), 'utf8')) as Record<string, string>
  const points = await t.call<RestorePoint[]>('GET', `/api/vms/${encodeURIComponent(dc01Id)}/restore-points`, { token: admin })
  assert.deepEqual(points.body.find((p) => p.id === rp)?.applicationItems, ['ntds'])
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
  const { ctx, page, errors } = await newPage(browser)
  try {
    await page.goto(`${t.service.url}/ui/#/login`)
    await page.locator('#sp-user').fill(t.lab.username)
    await page.locator('#sp-pass').fill(t.lab.password)
    await page.locator('.login button[type=submit]').click()
    await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'))
    await page.goto(`${t.service.url}/ui/#/actions/restore-ad?vm=${encodeURIComponent(dc01Id)}&rp=${rp}`)
    await page.locator('#ad-db').waitFor({ timeout: 120_000 })
    assert.match(await page.locator('#ad-db').innerText(), /C:\\Windows\\NTDS\\ntds\.dit/)
    await page.locator('#ad-q').fill('bob')
    await page.getByRole('button', { name: en['ad.searchButton']!, exact: true }).click()
    await page.locator('.sp-ad-name', { hasText: 'Bob Stone' }).click()
    await page.locator('.sp-ad-details h3', { hasText: 'Bob Stone' }).waitFor()
    assert.match(await page.locator('.sp-ad-details').innerText(), /Field sales/)
    await page.locator('.sp-ad-tree input[type=checkbox]').first().check()
    await page.locator('#ad-next').click()
    await page.locator('#ad-url').fill(dc.url)
    await page.locator('#ad-user').fill(dc.adminUser)
    await page.locator('#ad-pw').fill(dc.adminPassword)
    await page.locator('#ad-ca').fill(connection().caPem!)
    // The URL holds an address: the certificate is checked against the DC's own name.
    await page.locator('#ad-server-name').fill(connection().serverName!)
    await page.locator('#ad-next').click()
    const row = page.locator('#ad-compare tbody tr', { hasText: BOB })
    await row.waitFor({ timeout: 60_000 })
    assert.match(await row.innerText(), new RegExp(en['ad.status.changed']!))
    assert.match(await row.innerText(), /No longer member of CN=Sales Team/)
    await page.locator('#ad-next').click()
    await page.locator('#ad-memberships').waitFor()
    assert.equal(await page.locator('#ad-permissions').isChecked(), true, 'restoring permissions is on by default')
    assert.match(await page.locator('label', { has: page.locator('#ad-permissions') }).innerText(), new RegExp(en['ad.opt.permissions']!.replace(/[()]/g, '\\$&')))
    await page.screenshot({ path: join(tmp, 'ad-restore-options.png') })
    await page.locator('#ad-start').click()
    await page.locator('#ad-report tbody tr', { hasText: BOB }).waitFor({ timeout: 120_000 })
    assert.match(await page.locator('#ad-report').innerText(), /Updated/)
    assert.deepEqual(errors, [])
  } finally {
    await ctx.close()
    await browser.close()
  }
  assert.deepEqual(values((await liveEntry(BOB))!.memberOf), [TEAM], 'the wizard put Bob back into Sales Team')
})

test('restore the deleted user (reanimated: same objectGUID and objectSid, attributes and memberships back) and the removed membership', async () => {
  const r = await api<JobRun>('POST', '/ad/restore', { objects: [ALICE, BOB], connection: connection(), options: { memberships: true, password: { mode: 'must-change' } } })
  assert.equal(r.status, 202, JSON.stringify(r.body))
  const run = await t.waitRun(admin, r.body.id, 120_000)
  assert.equal(run.status, 'success', JSON.stringify(run))
  const rep = (await t.call<AdRestoreReport>('GET', `/api/ad-restores/${r.body.id}`, { token: admin })).body
  const alice = rep.results.find((x) => x.dn === ALICE)!
  assert.equal(alice.action, 'reanimated')
  assert.equal(alice.reanimatedFrom, 'tombstone')
  assert.equal(alice.recycleBin, false)
  assert.ok(['restored', 'unchanged'].includes(alice.permissions.status), JSON.stringify(alice.permissions))
  assert.equal(alice.liveObjectGUID, first(rec('alice'), 'objectGUID'))
  assert.equal(alice.liveObjectSid, first(rec('alice'), 'objectSid'))
  assert.equal(alice.password, 'must-change')
  assert.equal(rep.results.find((x) => x.dn === BOB)!.action, 'updated')

  const a = (await liveEntry(ALICE, ['*', 'memberOf', 'pwdLastSet']))!
  assert.equal(guidFromBytes(a.objectGUID as Buffer), first(rec('alice'), 'objectGUID'))
  assert.equal(sidFromLdap(a.objectSid as Buffer), first(rec('alice'), 'objectSid'))
  for (const n of ['givenName', 'sn', 'displayName', 'telephoneNumber', 'title', 'userPrincipalName', 'sAMAccountName']) {
    assert.deepEqual(values(a[n]), [first(rec('alice'), n)], n)
  }
  assert.deepEqual(values(a.memberOf), [TEAM])
  assert.equal(String(a.pwdLastSet), '0')
  const sd = parseSecurityDescriptor((await sds(ALICE, 'base')).get(ALICE)!)
  assert.deepEqual(explicitAces(sd.dacl).filter((x) => x.sid === bobSid).map((x) => [x.type, x.mask]), [[0, 0x30]], "Bob's ACE on Alice is back")
  assert.deepEqual(values((await liveEntry(TEAM))!.member).sort(), [ALICE, BOB].sort())
  assert.deepEqual(values((await liveEntry(BOB))!.memberOf), [TEAM])

  const again = await api<AdComparison>('POST', '/ad/compare', { ref: `OU=Sales,${B}`, subtree: true, connection: connection() })
  const left = again.body.objects.filter((o) => o.status !== 'unchanged')
  // Only what the restore was asked to change on purpose (pwdLastSet is not compared) may differ: nothing.
  assert.deepEqual(left.map((o) => [o.dn, o.status, o.attributes, o.memberOf, o.members]), [])

  // The directory passwords went through the service but are stored nowhere in its data folder.
  const leaked: string[] = []
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) { const b = readFileSync(p); for (const secret of [dc.adminPassword, HELPDESK_PASSWORD]) if (b.includes(secret) || b.includes(Buffer.from(secret, 'utf16le'))) leaked.push(p) }
    }
  }
  walk(t.dataDir)
  assert.deepEqual(leaked, [])
})
