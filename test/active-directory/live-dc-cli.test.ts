/**
 * `stillpoint ad ldif|compare|restore` on an ntds.dit file against a LIVE Samba AD DC (LDAPS on a
 * loopback address of its own). The file is a SYNTHETIC ntds.dit-shaped database written by the
 * test ESE writer from that DC's directory. Covers what the API acceptance test does not: a new
 * password (the user can then bind with it), a target container, a disabled account, a subset of
 * attributes, --no-recreate, and the exit code of a refusal for lack of rights.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Attribute, Change, type Client } from 'ldapts'
import { startSambaDc, type SambaDc } from '../helpers/samba-dc.ts'
import { dumpSamba, writeNtdsFromLdif } from '../ese-writer/ntds-from-samba.ts'
import { first, type LdifRecord } from '../ese-writer/ldif.ts'
import { guidFromBytes, sidFromLdap } from '../../backend/active-directory/ldap-values.ts'

const B = 'DC=lab,DC=local'
const CAROL = `CN=Carol Diaz,OU=Ops,${B}`
const DAVE = `CN=Dave Kim,OU=Ops,${B}`
const OPS = `CN=Ops Team,OU=Ops,${B}`
const pw = (p: string) => Buffer.from(`"${p}"`, 'utf16le')

let dc: SambaDc
let ldap: Client
let tmp: string
let file: string
let records: LdifRecord[]

before(async () => {
  dc = await startSambaDc()
  ldap = await dc.client()
  await ldap.add(`OU=Ops,${B}`, { objectClass: 'organizationalUnit' })
  await ldap.add(`OU=Restored,${B}`, { objectClass: 'organizationalUnit' })
  await ldap.add(CAROL, [new Attribute({ type: 'objectClass', values: ['user'] }), new Attribute({ type: 'sAMAccountName', values: ['carol'] }),
    new Attribute({ type: 'givenName', values: ['Carol'] }), new Attribute({ type: 'sn', values: ['Diaz'] }), new Attribute({ type: 'department', values: ['Operations'] }),
    new Attribute({ type: 'unicodePwd', values: [pw('Carol-Pass-1!')] }), new Attribute({ type: 'userAccountControl', values: ['512'] })])
  await ldap.add(DAVE, [new Attribute({ type: 'objectClass', values: ['user'] }), new Attribute({ type: 'sAMAccountName', values: ['dave'] }),
    new Attribute({ type: 'title', values: ['Engineer'] }), new Attribute({ type: 'department', values: ['Operations'] })])
  await ldap.add(OPS, { objectClass: 'group', sAMAccountName: 'ops-team', member: [CAROL, DAVE] })
  await ldap.add(`CN=Viewer,CN=Users,${B}`, [new Attribute({ type: 'objectClass', values: ['user'] }), new Attribute({ type: 'sAMAccountName', values: ['viewer'] }),
    new Attribute({ type: 'unicodePwd', values: [pw('Viewer-Pass-1!')] }), new Attribute({ type: 'userAccountControl', values: ['512'] })])
  tmp = mkdtempSync(join(tmpdir(), 'stillpoint-ad-cli-'))
  records = dumpSamba(dc.dir).records
  file = writeNtdsFromLdif(records, join(tmp, 'ntds.dit')).file
  // Since the "backup": Carol deleted; Dave's title and department changed.
  await ldap.del(CAROL)
  await ldap.modify(DAVE, [new Change({ operation: 'replace', modification: new Attribute({ type: 'title', values: ['Manager'] }) }),
    new Change({ operation: 'replace', modification: new Attribute({ type: 'department', values: ['Sales'] }) })])
})
after(async () => {
  await ldap?.unbind().catch(() => undefined)
  await dc?.stop()
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/stillpoint.mjs', 'ad', ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err })
    })
  })
}
const live = () => ['--dc', dc.url, '--ca', join(dc.dir, 'private', 'tls', 'ca.pem'), '--server-name', 'DC01.lab.local']
const admin = () => ({ STILLPOINT_AD_PASSWORD: dc.adminPassword })
const rec = (sam: string) => records.find((r) => first(r, 'sAMAccountName') === sam)!
async function entry(dn: string) {
  const r = await ldap.search(dn, { scope: 'base', attributes: ['*', 'memberOf', 'pwdLastSet'], explicitBufferAttributes: ['objectGUID', 'objectSid'] }).catch(() => undefined)
  return r?.searchEntries[0]
}

test('ldif: the objects of a subtree, values in LDAP form, no secrets', async () => {
  const r = await cli(['ldif', file, `OU=Ops,${B}`, '--subtree'])
  assert.equal(r.code, 0, r.err)
  assert.match(r.out, /^version: 1$/m)
  assert.match(r.out, new RegExp(`^dn: ${CAROL}$`, 'm'))
  assert.match(r.out, /^department: Operations$/m)
  assert.match(r.out, /^objectGUID:: /m)
  assert.doesNotMatch(r.out, /^(unicodePwd|supplementalCredentials|ntPwdHistory)::? /m)
  const imp = await cli(['ldif', file, DAVE, '--importable'])
  assert.match(imp.out, /^changetype: add$/m)
  assert.doesNotMatch(imp.out, /^(objectGUID|objectSid|whenCreated|uSNChanged)::? /m)
})

test('compare: a deleted user, changed attributes, a membership gone (the DC did it: Carol left Ops Team with her deletion)', async () => {
  const r = await cli(['compare', file, `OU=Ops,${B}`, '--subtree', ...live(), '--user', dc.adminUser, '--json'], admin())
  assert.equal(r.code, 0, r.err)
  const c = JSON.parse(r.out) as { objects: { dn: string; status: string; attributes: { name: string; backup: string[]; live: string[] }[]; members: { removed: string[] } }[] }
  const by = (dn: string) => c.objects.find((o) => o.dn === dn)!
  assert.equal(by(CAROL).status, 'deleted')
  assert.deepEqual(by(DAVE).attributes.map((a) => [a.name, a.backup, a.live]), [['department', ['Operations'], ['Sales']], ['title', ['Engineer'], ['Manager']]])
  assert.deepEqual(by(OPS).members.removed, [CAROL])
  const text = await cli(['compare', file, DAVE, ...live(), '--user', dc.adminUser], admin())
  assert.match(text.out, /^CHANGED +CN=Dave Kim,OU=Ops,DC=lab,DC=local$/m)
  assert.match(text.out, /title: backup \["Engineer"\], live \["Manager"\]/)
  const noPw = await cli(['compare', file, DAVE, ...live(), '--user', dc.adminUser], { STILLPOINT_AD_PASSWORD: '' })
  assert.equal(noPw.code, 2)
  assert.match(noPw.err, /STILLPOINT_AD_PASSWORD/)
})

test('restore refused for lack of rights: exit code 4 and the LDAP result named', async () => {
  const r = await cli(['restore', file, DAVE, ...live(), '--user', 'viewer@lab.local', '--attributes', 'title'], { STILLPOINT_AD_PASSWORD: 'Viewer-Pass-1!' })
  assert.equal(r.code, 4, r.out + r.err)
  assert.match(r.err, /insufficientAccessRights \(50\)/)
  assert.deepEqual((await entry(DAVE))!.title, 'Manager')
})

test('restore: only the chosen attribute; a deleted user into another container, with a new password, disabled', async () => {
  const d = await cli(['restore', file, DAVE, ...live(), '--user', dc.adminUser, '--attributes', 'title'], admin())
  assert.equal(d.code, 0, d.out + d.err)
  const dave = (await entry(DAVE))!
  assert.deepEqual([dave.title, dave.department], ['Engineer', 'Sales'])

  const c = await cli(['restore', file, CAROL, ...live(), '--user', dc.adminUser, '--target', `OU=Restored,${B}`, '--new-password-env', 'NEW_PW', '--disable', '--json'],
    { ...admin(), NEW_PW: 'Carol-New-Pass-2!' })
  assert.equal(c.code, 0, c.out + c.err)
  const res = JSON.parse(c.out) as { results: { action: string; liveDn: string; password: string; accountState: string; groupsAdded: string[] }[] }
  assert.deepEqual([res.results[0]!.action, res.results[0]!.liveDn, res.results[0]!.password, res.results[0]!.accountState],
    ['reanimated', `CN=Carol Diaz,OU=Restored,${B}`, 'set', 'disabled'])
  const carol = (await entry(`CN=Carol Diaz,OU=Restored,${B}`))!
  assert.equal(guidFromBytes(carol.objectGUID as Buffer), first(rec('carol'), 'objectGUID'))
  assert.equal(sidFromLdap(carol.objectSid as Buffer), first(rec('carol'), 'objectSid'))
  assert.deepEqual([carol.givenName, carol.sn, carol.department], ['Carol', 'Diaz', 'Operations'])
  assert.equal(Number(carol.userAccountControl) & 2, 2, 'disabled')
  assert.deepEqual(carol.memberOf, OPS)
  // Enabled again, the new password binds; the backed-up one does not (no hash came from the backup).
  await ldap.modify(carol.dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'userAccountControl', values: ['512'] }) }))
  const as = await dc.client('carol@lab.local', 'Carol-New-Pass-2!')
  await as.unbind()
  await assert.rejects(dc.client('carol@lab.local', 'Carol-Pass-1!'))

  const again = await cli(['restore', file, CAROL, ...live(), '--user', dc.adminUser, '--no-recreate'], admin())
  assert.equal(again.code, 0, again.out + again.err)
  assert.match(again.out, /^updated +CN=Carol Diaz,OU=Restored,DC=lab,DC=local/m)
})
