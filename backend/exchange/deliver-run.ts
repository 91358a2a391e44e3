/**
 * The 'exchange-restore' (IMAP APPEND into a mailbox folder) and 'exchange-send' (SMTP) run kinds:
 * messages of a restore point's mailbox database delivered one after the other, with progress, as
 * runs of the JobRunner. The mail server password never enters the run's params (which are saved):
 * it waits in memory (PendingSecrets) until the run takes it. Reports are kept in memory.
 */
import { InvalidRequest, StillpointError } from '../common/errors.ts'
import { childLog } from '../common/log.ts'
import type { VmContext, VmKind, VmOutcome } from '../jobs/kinds.ts'
import type { PendingSecrets } from '../app-items/pending-secrets.ts'
import type { PointMailboxes } from './point-mailboxes.ts'
import { restoreToImap, sendViaSmtp, type ImapTarget, type SmtpTarget } from './deliver.ts'
import type { ExchangeMessage } from './types.ts'
import { say } from '../common/service-text.ts'

const log = childLog('exchange-deliver')

export interface ExchangeDeliverParams {
  restorePointId: string
  mailbox: number
  messages: number[]
  imap?: Omit<ImapTarget, 'password'>
  smtp?: Omit<SmtpTarget, 'password'>
  secretsId: string
}

/** What an 'exchange-restore' or 'exchange-send' run did so far, message by message (the API's report has this shape). */
export interface ExchangeDeliveryReport {
  runId: string; restorePointId: string; kind: 'exchange-restore' | 'exchange-send'
  status: 'running' | 'success' | 'failed'
  done: number; total: number
  results: { documentId: number; subject: string; detail: string }[]
  error?: string
}

export class ExchangeDeliveryReports {
  #reports = new Map<string, ExchangeDeliveryReport>()
  get(runId: string): ExchangeDeliveryReport | undefined { return this.#reports.get(runId) }
  put(r: ExchangeDeliveryReport): void {
    this.#reports.set(r.runId, r)
    while (this.#reports.size > 200) this.#reports.delete(this.#reports.keys().next().value!)
  }
}

export interface ExchangeDeliverDeps { mailboxes: PointMailboxes; secrets: PendingSecrets; reports: ExchangeDeliveryReports }

export class ExchangeDeliverKind implements VmKind<ExchangeDeliverParams> {
  readonly kind: 'exchange-restore' | 'exchange-send'
  #d: ExchangeDeliverDeps
  constructor(kind: 'exchange-restore' | 'exchange-send', d: ExchangeDeliverDeps) { this.kind = kind; this.#d = d }

  async processVm(ctx: VmContext<ExchangeDeliverParams>): Promise<VmOutcome> {
    const p = ctx.params
    const report: ExchangeDeliveryReport = { runId: ctx.runId, restorePointId: p.restorePointId, kind: this.kind, status: 'running', done: 0, total: p.messages.length, results: [] }
    this.#d.reports.put(report)
    const fail = (e: StillpointError) => { report.status = 'failed'; report.error = e.message; return e }
    const secrets = this.#d.secrets.take(p.secretsId)
    if (!secrets) throw fail(new InvalidRequest('The mail server password for this run is no longer held (the service restarted, or the run started too late): start it again.'))
    ctx.progress({ phase: say('phase.openingMailboxDb'), percent: 0 })
    const { db } = await this.#d.mailboxes.open(p.restorePointId)
    const messages: ExchangeMessage[] = []
    let dirty = false
    for (const doc of p.messages) {
      const a = await db.message(p.mailbox, doc)
      dirty ||= a.database.state === 'dirty'
      messages.push(a.items)
      ctx.progress({ phase: say('phase.readingMessage', { n: messages.length, total: p.messages.length }), percent: Math.round((20 * messages.length) / p.messages.length) })
    }
    const onProgress = (x: { done: number; total: number; subject: string }) => {
      report.done = x.done
      ctx.progress({ phase: say(this.kind === 'exchange-restore' ? 'phase.appendedMessage' : 'phase.sentMessage', { subject: x.subject }), percent: 20 + Math.round((80 * x.done) / x.total) })
    }
    try {
      const res = this.kind === 'exchange-restore'
        ? await restoreToImap({ ...p.imap!, password: secrets.password }, messages, onProgress)
        : await sendViaSmtp({ ...p.smtp!, ...(p.smtp!.user ? { password: secrets.password } : {}) }, messages, onProgress)
      report.results = res.delivered
    } catch (e) {
      log.warn({ runId: ctx.runId, err: (e as Error).message }, 'the mail server refused an Exchange item delivery')
      throw fail(new StillpointError('failed', this.kind === 'exchange-restore' ? 'imap_refused' : 'smtp_refused', (e as Error).message))
    }
    report.status = 'success'
    const state = dirty ? say('exchange.dirtyDatabase') : ''
    const message = this.kind === 'exchange-restore'
      ? say('exchange.restored', { n: messages.length, folder: p.imap!.folder, host: p.imap!.host, dirty: state })
      : say('exchange.sent', { n: messages.length, to: p.smtp!.to.join(', '), host: p.smtp!.host, dirty: state })
    return { status: 'success', message, bytesRead: 0, bytesStored: 0, warnings: [] }
  }
}
