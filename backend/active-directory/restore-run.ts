/**
 * The 'ad-restore' run kind: objects of a restore point's ntds.dit restored into a live DC over
 * LDAPS, one after the other, with progress, as a run of the JobRunner (history, events, cancel).
 * The user's directory password (and a new password for the restored accounts) never enter the
 * run's params, which are saved: they wait in memory (PendingSecrets) until the run takes them,
 * and are gone after. Per-object results are kept in memory for the report endpoint.
 */
import type { PendingSecrets } from '../app-items/pending-secrets.ts'
import { childLog } from '../common/log.ts'
import { InvalidRequest, StillpointError } from '../common/errors.ts'
import type { VmContext, VmKind, VmOutcome } from '../jobs/kinds.ts'
import type { PointDirectories } from './point-directory.ts'
import type { FileRestore } from '../file-restore/sessions.ts'
import { pointSecurityDescriptors } from './point-sd.ts'
import type { BackupSecurityDescriptors } from './sd-table.ts'
import { connectLive, LiveDirectoryError, type LiveTarget } from './live.ts'
import { objectsOf } from './compare.ts'
import { restoreObject, type AdRestoreOptions, type ObjectRestoreResult, type PasswordOption } from './restore.ts'
import { say } from '../common/service-text.ts'

const log = childLog('ad-restore')

/** What is saved with the run: no password. */
export interface AdRestoreParams {
  restorePointId: string
  objects: string[]
  subtree: boolean
  connection: Omit<LiveTarget, 'password'>
  options: Omit<AdRestoreOptions, 'password'> & { password: { mode: PasswordOption['mode']; mustChange?: boolean } }
  /** Key of the secrets held in memory for this run. */
  secretsId: string
}

/** A directory refusal as the engine's error: the API answers its status, the run shows its message. */
export function directoryError(e: LiveDirectoryError): StillpointError {
  const details = e.ldapCode !== undefined ? { ldapCode: e.ldapCode, ldapResult: e.ldapResult } : undefined
  switch (e.kind) {
    case 'rights': return new StillpointError('forbidden', 'directory_insufficient_rights', e.message, details)
    case 'credentials': return new StillpointError('invalid', 'directory_credentials', e.message, details)
    case 'not-found': return new StillpointError('not_found', 'directory_object_not_found', e.message, details)
    case 'conflict': return new StillpointError('conflict', 'directory_conflict', e.message, details)
    case 'connection': return new StillpointError('unavailable', 'directory_unreachable', e.message, details, { cause: e })
    default: return new StillpointError('invalid', 'directory_refused', e.message, details)
  }
}

/** What an 'ad-restore' run did so far, object by object (the API's AdRestoreReport has this shape). */
export interface AdRestoreReport {
  runId: string
  restorePointId: string
  status: 'running' | 'success' | 'warning' | 'failed'
  done: number
  total: number
  results: ObjectRestoreResult[]
  /** Why the restore stopped: the directory's answer (status 403 for insufficientAccessRights (50), 401 for bad credentials…). */
  error?: { status: number; message: string; ldapCode?: number; ldapResult?: string }
}

export class AdRestoreReports {
  #reports = new Map<string, AdRestoreReport>()
  get(runId: string): AdRestoreReport | undefined { return this.#reports.get(runId) }
  put(r: AdRestoreReport): void {
    this.#reports.set(r.runId, r)
    while (this.#reports.size > 200) this.#reports.delete(this.#reports.keys().next().value!)
  }
}

export interface AdRestoreKindDeps {
  directories: PointDirectories
  secrets: PendingSecrets
  reports: AdRestoreReports
  /** To read the point's sd_table when permissions are restored (without it they are not). */
  files?: FileRestore
}

const summarize = (rs: ObjectRestoreResult[]) => {
  const by = (a: string) => rs.filter((r) => r.action === a).length
  const parts = [`${rs.length} object${rs.length === 1 ? '' : 's'} restored`]
  const from = (f: string) => rs.filter((r) => r.reanimatedFrom === f).length
  if (by('reanimated')) {
    const how = [from('recycle-bin') && `${from('recycle-bin')} from the Recycle Bin`, from('tombstone') && `${from('tombstone')} from a tombstone`].filter(Boolean).join(', ')
    parts.push(`${by('reanimated')} reanimated (same objectGUID and objectSid${how ? `; ${how}` : ''})`)
  }
  if (by('recreated')) parts.push(`${by('recreated')} recreated (new objectGUID and objectSid)`)
  if (by('updated')) parts.push(`${by('updated')} updated`)
  const groups = rs.reduce((n, r) => n + r.groupsAdded.length + r.membersAdded.length, 0)
  if (groups) parts.push(`${groups} membership${groups === 1 ? '' : 's'} put back`)
  const perms = rs.filter((r) => r.permissions.status === 'restored').length
  if (perms) parts.push(`permissions of ${perms} object${perms === 1 ? '' : 's'} restored`)
  return parts.join(', ')
}

export class AdRestoreKind implements VmKind<AdRestoreParams> {
  readonly kind = 'ad-restore' as const
  #d: AdRestoreKindDeps
  constructor(d: AdRestoreKindDeps) { this.#d = d }

  async processVm(ctx: VmContext<AdRestoreParams>): Promise<VmOutcome> {
    const p = ctx.params
    const report: AdRestoreReport = { runId: ctx.runId, restorePointId: p.restorePointId, status: 'running', done: 0, total: 0, results: [] }
    this.#d.reports.put(report)
    const secrets = this.#d.secrets.take(p.secretsId)
    const fail = (e: StillpointError, ldap?: LiveDirectoryError) => {
      report.status = 'failed'
      report.error = { status: ldap?.status ?? 500, message: e.message, ...(ldap?.ldapCode !== undefined ? { ldapCode: ldap.ldapCode, ldapResult: ldap.ldapResult } : {}) }
      return e
    }
    if (!secrets) throw fail(new InvalidRequest('The directory password for this restore is no longer held (the service restarted, or the run started too late): start the restore again.'))
    ctx.progress({ phase: say('phase.openingNtds'), percent: 0 })
    const dir = await this.#d.directories.open(p.restorePointId)
    const refs = [...new Set((await Promise.all(p.objects.map((o) => objectsOf(dir.ad, o, p.subtree)))).flat())]
    report.total = refs.length
    ctx.progress({ phase: say('phase.signingInTo', { url: p.connection.url }), percent: 2 })
    let live
    try { live = await connectLive({ ...p.connection, password: secrets.password }) } catch (e) {
      if (e instanceof LiveDirectoryError) throw fail(directoryError(e), e)
      throw e
    }
    const password: PasswordOption = p.options.password.mode === 'new'
      ? { mode: 'new', value: secrets.newPassword ?? '', ...(p.options.password.mustChange ? { mustChange: true } : {}) }
      : p.options.password.mode === 'must-change' ? { mode: 'must-change' } : { mode: 'none' }
    if (password.mode === 'new' && !password.value) throw fail(new InvalidRequest('A new password was asked for but none was given.'))
    let securityDescriptors: BackupSecurityDescriptors | undefined
    if (p.options.permissions !== false && this.#d.files) {
      ctx.progress({ phase: say('phase.readingSecurityDescriptors'), percent: 3 })
      try { securityDescriptors = await pointSecurityDescriptors(this.#d.files, p.restorePointId, dir.located) } catch (e) {
        // Without them the rest of the restore goes on; the objects report their permissions as not in the backup.
        log.warn({ runId: ctx.runId, err: (e as Error).message }, 'the sd_table of the backed-up ntds.dit could not be read')
      }
    }
    try {
      for (const ref of refs) {
        if (ctx.signal.aborted) break
        ctx.progress({ phase: say('phase.restoringObject', { object: ref }), percent: 5 + Math.round((90 * report.done) / Math.max(1, refs.length)) })
        report.results.push(await restoreObject(dir.ad, live, ref, { ...p.options, password }, { ...(securityDescriptors ? { securityDescriptors } : {}) }))
        report.done++
      }
    } catch (e) {
      if (e instanceof LiveDirectoryError) {
        log.warn({ runId: ctx.runId, kind: e.kind, ldapCode: e.ldapCode }, 'the directory refused an AD restore')
        throw fail(directoryError(e), e)
      }
      throw fail(e instanceof StillpointError ? e : new StillpointError('failed', 'ad_restore_failed', (e as Error).message))
    } finally {
      await live.close()
    }
    const problems = report.results.flatMap((r) => r.problems.map((x) => `${r.dn}: ${x}`))
    report.status = problems.length ? 'warning' : 'success'
    const state = dir.ad.consistency.state === 'dirty' ? ' (from a dirty ntds.dit, read without log replay)' : ''
    return { status: problems.length ? 'warning' : 'success', message: `${summarize(report.results)}${state}`, bytesRead: 0, bytesStored: 0, warnings: problems }
  }
}
