/**
 * The "Restore Exchange items…" wizard in Chromium, end to end: lab VM "mail01" (NTFS disk with a
 * SYNTHETIC, dirty Exchange mailbox database; Exchange writer in its VSS manifest) backed up through
 * the service; the restore point's row offers the wizard (dc-less points do not); the database step
 * says dirty with the log generations it needs; a message found by subject through the search, opened
 * in the details pane, downloaded as EML (read back by mailparser) and its folder as a zip; then
 * restored into a folder of a real IMAP server (Debian's Dovecot) and fetched back identical.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ImapFlow } from 'imapflow'
import { simpleParser } from 'mailparser'
import { chromium, type Page } from 'playwright-core'
import { startLab, type Lab } from '../lab/lab.ts'
import { buildMail01Image, MAIL01_DIRTY_LOGS } from '../lab/images/mail01.ts'
import { startTestService, type TestService } from '../helpers/service.ts'
import { startDovecot, type Dovecot } from '../helpers/dovecot.ts'
import { startSmtpSink } from '../helpers/smtp.ts'
import { ensureUiBuilt } from '../helpers/ui-build.ts'
import { CHROMIUM, frameOf, newPage, openDevHost, unnamedControls } from '../helpers/devhost-page.ts'
import type { ExchangeAnswerDto, ExchangeDatabaseInfo, ExchangeMessageDto, ExchangeMessageSummaryDto, JobRun, RestorePoint } from '../../backend/api/contract.ts'
import type { ExchangeMessage } from '../../backend/exchange/types.ts'
import { assertSameMail } from './helpers.ts'

const catalog = (l: string) => JSON.parse(readFileSync(new URL(`../../ui/src/app/i18n/${l}.json`, import.meta.url), 'utf8')) as Record<string, string>
const en = catalog('en-US'), de = catalog('de-DE')
const SUBJECT = 'Quarterly report Q3 — figures attached'
let lab: Lab | undefined, t: TestService | undefined, imap: Dovecot | undefined, admin: string, rp: string, vmId: string, tmp: string

before(async () => {
  ensureUiBuilt()
  const img = await buildMail01Image()
  lab = await startLab({ appVms: { mail01: img.image } })
  t = await startTestService({ lab, config: { devHost: true } })
  admin = await t.login()
  imap = await startDovecot({ user: 'alice', password: 'Wizard-Restore-1' })
  tmp = mkdtempSync(join(tmpdir(), 'stillpoint-exchange-ui-'))
  vmId = (await t.lab.control.vms()).mail01!.moref
  const b = await t.call<JobRun>('POST', '/api/backups', { token: admin, body: { vmIds: [vmId] } })
  assert.equal(b.status, 202, JSON.stringify(b.body))
  const run = await t.waitRun(admin, b.body.id, 180_000)
  assert.equal(run.status, 'success', JSON.stringify(run))
  rp = run.vms[0]!.restorePointId!
})
// The service's stop() leaves a lab it was given running: this file stops its own, or it never ends.
after(async () => { await t?.stop(); await lab?.stop(); await imap?.stop(); if (tmp) rmSync(tmp, { recursive: true, force: true }) })

/** The message as the API has it, with the attachment bytes from its EML export (what a restored copy must carry). */
async function backedUp(mb: number, doc: number, eml: Buffer): Promise<ExchangeMessage> {
  const m = (await t!.call<ExchangeAnswerDto<ExchangeMessageDto>>('GET', `/api/restore-points/${rp}/exchange/mailboxes/${mb}/messages/${doc}`, { token: admin })).body.items
  const parsed = await simpleParser(eml)
  return { ...m, attachments: m.attachments.map((a, i) => ({ ...a, content: parsed.attachments[i]!.content })) }
}

/** The API's EML export of a message (its attachment bytes are what a delivered copy must carry). */
function apiEml(mb: number, doc: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(`${t!.service.url}/api/restore-points/${rp}/exchange/mailboxes/${mb}/messages/${doc}/export?format=eml`, { headers: { authorization: `Bearer ${admin}` }, ca: t!.service.cert }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`EML export: ${res.statusCode}`))))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * Waits until the message list shows a search's answer with messages in it: the folder listed before
 * (which may hold the same message) and the empty list while the search runs do not count.
 */
async function searchAnswered(page: Page): Promise<void> {
  const titles = [en['exchange.results.one']!, en['exchange.results.other']!]
  await page.waitForFunction((ts) => {
    const title = (globalThis as any).document.querySelector('#ex-list-title')?.textContent.trim() ?? ''
    return ts.some((t) => new RegExp(`^${t.replace('{n}', '[1-9]\\d*')}$`).test(title))
  }, titles, { timeout: 60_000 })
}

test('UI: "Restore Exchange items…" from the restore point: search by subject, details, EML and folder zip downloads, restore into Dovecot', async () => {
  const points = await t!.call<RestorePoint[]>('GET', `/api/vms/${encodeURIComponent(vmId)}/restore-points`, { token: admin })
  assert.deepEqual(points.body.find((p) => p.id === rp)?.applicationItems, ['exchange'])
  const info = (await t!.call<ExchangeDatabaseInfo>('GET', `/api/restore-points/${rp}/exchange`, { token: admin })).body
  const alice = info.mailboxes.find((m) => m.displayName === 'Alice Müller')!
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
  const { ctx, page, errors } = await newPage(browser)
  let emlBytes: Buffer
  let doc: number
  try {
    await page.goto(`${t!.service.url}/ui/#/login`)
    await page.locator('#sp-user').fill(t!.lab.username)
    await page.locator('#sp-pass').fill(t!.lab.password)
    await page.locator('.login button[type=submit]').click()
    await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'))

    // The restore point's row actions offer the wizard (its manifest has the Exchange writer), not the AD one.
    await page.goto(`${t!.service.url}/ui/#/vm/monitor?vm=${encodeURIComponent(vmId)}`)
    const row = page.locator('clr-dg-row').first()
    await row.waitFor({ timeout: 60_000 })
    await row.locator('clr-dg-action-overflow button').first().click()
    await page.locator('.action-item', { hasText: en['action.recoverFiles']! }).waitFor()
    assert.equal(await page.locator('.action-item', { hasText: en['action.restoreAd']! }).count(), 0, 'no NTDS writer: no "Restore AD objects…"')
    await page.locator('.action-item', { hasText: en['exchange.action']! }).click()

    // Database: dirty, with the log generations it needs, as the API says.
    await page.locator('#ex-db').waitFor({ timeout: 120_000 })
    assert.match(await page.locator('#ex-db').innerText(), /Mailbox Database 0123456789\.edb/)
    assert.match(await page.locator('#ex-state').innerText(), new RegExp(en['exchange.state.dirty']!))
    assert.match(await page.locator('#ex-logs-needed').innerText(), new RegExp(`${MAIL01_DIRTY_LOGS.minLog}–${MAIL01_DIRTY_LOGS.maxLog}`))
    await page.locator('#ex-next').click()

    // Items: folder tree (Clarity), the Inbox listed first; search by subject.
    await page.locator('clr-tree .sp-ex-folder', { hasText: 'Projects' }).waitFor({ timeout: 60_000 })
    await page.locator('#ex-messages tbody tr').first().waitFor()
    assert.equal(await page.locator('#ex-mailbox').inputValue(), String(alice.number))
    await page.locator('#ex-q-subject').fill('quarterly')
    await page.locator('#ex-q-from').fill('bob')
    await page.locator('#ex-search-go').click()
    await searchAnswered(page)
    const hit = page.locator('#ex-messages tbody tr', { hasText: SUBJECT })
    await hit.waitFor()
    assert.equal(await page.locator('#ex-messages tbody tr').count(), 1, 'the search finds only that message (not the reply from Alice)')
    assert.match(await hit.innerText(), /Bob Søndergaard/)
    assert.equal(await hit.locator('.sp-ex-clip').count(), 1, 'attachment icon')
    await hit.locator('.sp-ex-subject').click()
    await page.locator('#ex-details h3', { hasText: SUBJECT }).waitFor()
    assert.match(await page.locator('#ex-d-from').innerText(), /Bob Søndergaard <bob@/)
    assert.match(await page.locator('#ex-d-attachments').innerText(), /Q3-report\.pdf/)
    assert.ok((await page.locator('#ex-d-body').innerText()).trim().length > 0, 'the body text is shown')
    assert.deepEqual(await unnamedControls(page), [])

    // EML download: bytes that mailparser reads, with that subject and sender.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.locator('#ex-eml').click()])
    emlBytes = readFileSync((await dl.path())!)
    const parsed = await simpleParser(emlBytes)
    assert.equal(parsed.subject, SUBJECT)
    assert.match(parsed.from?.text ?? '', /bob@/)
    assert.match(dl.suggestedFilename(), /\.eml$/)

    // The folder (back from the search) as a zip of EML files, one per message of the folder.
    await page.getByRole('button', { name: en['exchange.search.clear']! }).click()
    const inbox = page.locator('#ex-list-title')
    await page.waitForFunction(() => (globalThis as any).document.querySelector('#ex-list-title')?.textContent.trim() === 'Inbox')
    await page.locator('#ex-messages tbody tr', { hasText: 'Grüße aus München' }).waitFor()
    await page.locator('.sp-ex-list clr-spinner').waitFor({ state: 'detached' })
    const inboxRows = await page.locator('#ex-messages tbody tr input[type=checkbox]').count()
    assert.ok(inboxRows >= 2, `the Inbox lists its messages (${inboxRows})`)
    const [zip] = await Promise.all([page.waitForEvent('download'), page.locator('#ex-folder-zip').click()])
    const zipPath = join(tmp, 'inbox.zip')
    await zip.saveAs(zipPath)
    assert.equal(execFileSync('unzip', ['-Z1', zipPath], { encoding: 'utf8' }).trim().split('\n').length, inboxRows, `${await inbox.innerText()} as zip`)

    // Pick the message and restore it into a folder of Dovecot.
    await page.locator('#ex-messages tbody tr', { hasText: SUBJECT }).locator('input[type=checkbox]').check()
    // The count follows the pick once Angular has rendered it: waited for, not read at once.
    const counted = await page.waitForFunction(() => /1/.test((globalThis as any).document.querySelector('#ex-selected')?.innerText ?? ''), undefined, { timeout: 10_000 }).then(() => true, () => false)
    assert.ok(counted, `one message picked: ${await page.locator('#ex-selected').innerText()}`)
    await page.locator('#ex-next').click()
    await page.locator('#ex-host').fill(imap!.host)
    await page.locator('#ex-secure').uncheck()
    await page.locator('#ex-port').fill(String(imap!.port))
    await page.locator('#ex-user').fill(imap!.user)
    await page.locator('#ex-pw').fill(imap!.password)
    await page.locator('#ex-folder').fill('Restored/From wizard')
    assert.deepEqual(await unnamedControls(page), [])
    await page.locator('#ex-start').click()
    await page.locator('#ex-report tbody tr', { hasText: SUBJECT }).waitFor({ timeout: 120_000 })
    assert.match(await page.locator('#ex-report').innerText(), /UID \d+ in Restored\/From wizard/)
    assert.deepEqual(errors, [])
    doc = (await t!.call<ExchangeAnswerDto<ExchangeMessageSummaryDto[]>>('GET', `/api/restore-points/${rp}/exchange/mailboxes/${alice.number}/messages?subject=${encodeURIComponent('Quarterly report Q3')}`, { token: admin })).body.items[0]!.documentId
  } finally {
    await ctx.close()
    await browser.close()
  }

  // What arrived in Dovecot is the backed-up message.
  const c = new ImapFlow({ host: imap!.host, port: imap!.port, secure: false, auth: { user: imap!.user, pass: imap!.password }, logger: false })
  await c.connect()
  try {
    const lock = await c.getMailboxLock('Restored/From wizard')
    try {
      const got = []
      for await (const x of c.fetch('1:*', { source: true })) got.push(x)
      assert.equal(got.length, 1)
      assertSameMail(await simpleParser(got[0]!.source!), await backedUp(alice.number, doc, emlBytes), 'IMAP copy restored by the wizard')
    } finally { lock.release() }
  } finally { await c.logout() }
})

test('dev host (de-DE): the VM menu\'s "Restore Exchange items…" opens at the restore point step with mail01\'s point, then its database', async () => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
  const { ctx, page, errors } = await newPage(browser, { locale: 'de-DE' })
  try {
    await openDevHost(t!, page, { vm: vmId, locale: 'de-DE' })
    await page.getByRole('treeitem', { name: 'mail01', exact: true }).click({ button: 'right' })
    await page.getByRole('menuitem', { name: 'Exchange-Elemente wiederherstellen…' }).click()
    await page.locator('#modal').waitFor()
    const frame = await frameOf(page, '#modal-frame')
    await frame.locator('#ex-points input[type=radio]').first().waitFor({ timeout: 60_000 })
    assert.equal(await frame.locator('#ex-points input[type=radio]').count(), 1)
    assert.ok(await frame.locator('#ex-points input[type=radio]').first().isChecked(), 'the newest Exchange point is chosen')
    assert.match(await frame.locator('#ex-points').innerText(), new RegExp(de['consistency.application']!))
    await frame.getByRole('button', { name: de['common.next']!, exact: true }).click()
    await frame.locator('#ex-state').waitFor({ timeout: 120_000 })
    assert.match(await frame.locator('#ex-state').innerText(), new RegExp(de['exchange.state.dirty']!))
    assert.deepEqual(await unnamedControls(frame), [])

    // A restore the mail server refuses (wrong password) ends failed, and the dialog says why.
    await frame.getByRole('button', { name: de['common.next']!, exact: true }).click()
    await frame.locator('#ex-messages tbody tr input[type=checkbox]').first().check({ timeout: 60_000 })
    await frame.getByRole('button', { name: de['common.next']!, exact: true }).click()
    await frame.locator('#ex-host').fill(imap!.host)
    await frame.locator('#ex-secure').uncheck()
    await frame.locator('#ex-port').fill(String(imap!.port))
    await frame.locator('#ex-user').fill(imap!.user)
    await frame.locator('#ex-pw').fill('not-the-password')
    assert.deepEqual(await unnamedControls(frame), [])
    await frame.locator('#ex-start').click()
    const why = frame.locator('.sp-ex-problem[role=alert]')
    await why.waitFor({ timeout: 120_000 })
    assert.match(await why.innerText(), /refused the login \(check the user name and password\)/)
    assert.match(await frame.locator('#ex-progress').innerText(), new RegExp(de['exchange.progressDone.one']!.replace('{n}', '1')))
    assert.deepEqual(errors, [])
  } finally {
    await ctx.close()
    await browser.close()
  }
})

test('UI: "Send to mailboxes (SMTP)" sends the picked messages as they were to the addresses given', async () => {
  const smtp = await startSmtpSink()
  // The sink is stopped whatever fails below: a running child process would keep this file from ending.
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] })
    const { ctx, page, errors } = await newPage(browser)
    try {
      await page.goto(`${t!.service.url}/ui/#/login`)
      await page.locator('#sp-user').fill(t!.lab.username)
      await page.locator('#sp-pass').fill(t!.lab.password)
      await page.locator('.login button[type=submit]').click()
      await page.waitForFunction(() => !(globalThis as any).location.hash.startsWith('#/login'))
      await page.goto(`${t!.service.url}/ui/#/actions/restore-exchange?vm=${encodeURIComponent(vmId)}&rp=${rp}`)
      await page.locator('#ex-db').waitFor({ timeout: 120_000 })
      await page.locator('#ex-next').click()
      await page.locator('#ex-q-attachment').fill('.csv')
      await page.locator('#ex-search-go').click()
      await searchAnswered(page)
      const hit = page.locator('#ex-messages tbody tr', { hasText: SUBJECT })
      await hit.waitFor({ timeout: 60_000 })
      assert.equal(await page.locator('#ex-messages tbody tr').count(), 1, 'only the message with a .csv attachment')
      await hit.locator('input[type=checkbox]').check()
      await page.locator('#ex-next').click()
      await page.locator('#ex-how-smtp').check()
      await page.locator('#ex-host').fill(smtp.host)
      await page.locator('#ex-secure').uncheck()
      await page.locator('#ex-port').fill(String(smtp.port))
      await page.locator('#ex-envelope-from').fill('restore@corp.example.test')
      await page.locator('#ex-to').fill('helpdesk@corp.example.test, audit@corp.example.test')
      // Enabled once every field has been taken; if not, say which values the form holds.
      const ready = await page.waitForFunction(() => !(globalThis as any).document.querySelector('#ex-start')?.disabled, undefined, { timeout: 10_000 }).then(() => true, () => false)
      assert.ok(ready, `Send stays disabled with ${JSON.stringify(await page.evaluate(() => ['#ex-host', '#ex-port', '#ex-secure', '#ex-envelope-from', '#ex-to'].map((id) => { const e = (globalThis as any).document.querySelector(id); return [id, e?.type === 'checkbox' ? e.checked : e?.value] })))}`)
      await page.locator('#ex-start').click()
      await page.locator('#ex-report tbody tr', { hasText: SUBJECT }).waitFor({ timeout: 120_000 })
      assert.deepEqual(errors, [])
    } finally {
      await ctx.close()
      await browser.close()
    }
    const got = smtp.received()
    assert.equal(got.length, 1)
    assert.deepEqual(got[0]!.envelope.to, ['helpdesk@corp.example.test', 'audit@corp.example.test'])
    assert.equal(got[0]!.envelope.from, 'restore@corp.example.test')
    const mb = (await t!.call<ExchangeDatabaseInfo>('GET', `/api/restore-points/${rp}/exchange`, { token: admin })).body.mailboxes[0]!.number
    const doc = (await t!.call<ExchangeAnswerDto<ExchangeMessageSummaryDto[]>>('GET', `/api/restore-points/${rp}/exchange/mailboxes/${mb}/messages?subject=${encodeURIComponent('Quarterly report Q3')}&attachment=csv`, { token: admin })).body.items[0]!.documentId
    assertSameMail(await simpleParser(got[0]!.raw), await backedUp(mb, doc, await apiEml(mb, doc)), 'SMTP copy sent by the wizard')
  } finally { await smtp.stop() }
})
