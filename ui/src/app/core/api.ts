import { HttpClient, HttpErrorResponse } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom } from 'rxjs';
import type {
  ApiError, BackupRequest, Dashboard, DatastoreInfo, GuestCredential, GuestCredentialInput, HostInfo, Job, JobInput,
  JobRun, LoginRequest, LoginResponse, NotificationSettingsDto, NotificationSettingsInput, NotificationTestResult, ReplicaState, RestorePoint, RestoreRequest, SessionInfo, TargetNameCheck, VmDetail, VmSummary,
} from '@contract';
import type {
  FileDownloadLink, FileDownloadLinkRequest, FileEntry, FileListing, FileRestoreRequest, FileSearchResult, FileVersions, FileVolume,
} from '@contract';
import { AuthService } from './auth';

/** Typed client for backend/api/contract.ts. All methods return promises; errors are `ApiFailure`. */
@Injectable({ providedIn: 'root' })
export class Api {
  private readonly http = inject(HttpClient);
  private readonly auth = inject(AuthService);

  private get<T>(path: string): Promise<T> { return this.wrap(this.http.get<T>(this.auth.url(path))); }
  private post<T>(path: string, body: unknown = {}): Promise<T> { return this.wrap(this.http.post<T>(this.auth.url(path), body)); }
  private put<T>(path: string, body: unknown): Promise<T> { return this.wrap(this.http.put<T>(this.auth.url(path), body)); }
  private del(path: string): Promise<void> { return this.wrap(this.http.delete<void>(this.auth.url(path))); }
  private async wrap<T>(o: import('rxjs').Observable<T>): Promise<T> {
    try { return await firstValueFrom(o); } catch (e) { throw ApiFailure.from(e); }
  }

  login(body: LoginRequest): Promise<LoginResponse> { return this.post('session/login', body); }
  logout(): Promise<void> { return this.post('session/logout'); }
  session(): Promise<SessionInfo> { return this.get('session'); }
  vms(): Promise<VmSummary[]> { return this.get('vms'); }
  vm(id: string): Promise<VmDetail> { return this.get(`vms/${enc(id)}`); }
  restorePoints(vmId: string): Promise<RestorePoint[]> { return this.get(`vms/${enc(vmId)}/restore-points`); }
  vmJobs(vmId: string): Promise<Job[]> { return this.get(`vms/${enc(vmId)}/jobs`); }
  vmRuns(vmId: string): Promise<JobRun[]> { return this.get(`vms/${enc(vmId)}/runs`); }
  /** State 'none' when the VM is not replicated; an error (e.g. 404 for an unknown VM) stays an error. */
  async replica(vmId: string): Promise<ReplicaState> {
    return this.get<ReplicaState>(`vms/${enc(vmId)}/replica`);
  }
  backup(body: BackupRequest): Promise<JobRun> { return this.post('backups', body); }
  restorePoint(id: string): Promise<RestorePoint> { return this.get(`restore-points/${enc(id)}`); }
  restore(id: string, body: RestoreRequest): Promise<JobRun> { return this.post(`restore-points/${enc(id)}/restore`, body); }
  /** Whether a VM restored from the point may take this name (no VM of that name in the point's vCenter). */
  restoreTargetName(id: string, name: string): Promise<TargetNameCheck> { return this.get(`restore-points/${enc(id)}/target-name?${query({ name })}`); }
  jobs(): Promise<Job[]> { return this.get('jobs'); }
  job(id: string): Promise<Job> { return this.get(`jobs/${enc(id)}`); }
  createJob(body: JobInput): Promise<Job> { return this.post('jobs', body); }
  updateJob(id: string, body: JobInput): Promise<Job> { return this.put(`jobs/${enc(id)}`, body); }
  deleteJob(id: string): Promise<void> { return this.del(`jobs/${enc(id)}`); }
  runJob(id: string): Promise<JobRun> { return this.post(`jobs/${enc(id)}/run`); }
  addVmsToJob(id: string, vmIds: string[]): Promise<Job> { return this.post(`jobs/${enc(id)}/vms`, { vmIds }); }
  runs(limit = 50): Promise<JobRun[]> { return this.get(`runs?limit=${limit}`); }
  run(id: string): Promise<JobRun> { return this.get(`runs/${enc(id)}`); }
  cancelRun(id: string): Promise<JobRun> { return this.post(`runs/${enc(id)}/cancel`); }
  hosts(): Promise<HostInfo[]> { return this.get('inventory/hosts'); }
  datastores(): Promise<DatastoreInfo[]> { return this.get('inventory/datastores'); }
  credentials(): Promise<GuestCredential[]> { return this.get('credentials'); }
  createCredential(body: GuestCredentialInput): Promise<GuestCredential> { return this.post('credentials', body); }
  deleteCredential(id: string): Promise<void> { return this.del(`credentials/${enc(id)}`); }
  dashboard(): Promise<Dashboard> { return this.get('dashboard'); }
  /** The runs behind a dashboard figure: by outcome, kind and start (ISO time or "24h"). */
  runsWhere(f: { status?: string; kind?: string; since?: string; limit?: number }): Promise<JobRun[]> { return this.get(`runs?${query(f)}`); }
  notificationSettings(): Promise<NotificationSettingsDto> { return this.get('notifications/settings'); }
  saveNotificationSettings(body: NotificationSettingsInput): Promise<NotificationSettingsDto> { return this.put('notifications/settings', body); }
  testNotifications(to?: string[]): Promise<NotificationTestResult> { return this.post('notifications/test', to?.length ? { to } : {}); }
  sendSummaryNow(): Promise<{ subject: string }> { return this.post('notifications/summary'); }

  // File-level restore (backend/api/contracts/files.ts): volumes, listings, search, download links.
  fileVolumes(rpId: string): Promise<FileVolume[]> { return this.get(`restore-points/${enc(rpId)}/volumes`); }
  /** A directory's entries (no ref: the volume's root), directories first, a page of `limit` from `offset`. */
  fileList(rpId: string, volumeId: string, ref?: string, offset = 0, limit = 500): Promise<FileListing> {
    return this.get(`restore-points/${enc(rpId)}/volumes/${enc(volumeId)}/list?${query({ ref, offset, limit })}`);
  }
  fileEntry(rpId: string, volumeId: string, ref: string): Promise<FileEntry> {
    return this.get(`restore-points/${enc(rpId)}/volumes/${enc(volumeId)}/entry?${query({ ref })}`);
  }
  /** A file or folder by its path on the volume ("etc/app/app.conf"), e.g. the same file in another restore point. */
  fileEntryByPath(rpId: string, volumeId: string, path: string): Promise<FileEntry> {
    return this.get(`restore-points/${enc(rpId)}/volumes/${enc(volumeId)}/entry?${query({ path })}`);
  }
  /** Glob search over every volume of the restore point (or one). */
  fileSearch(rpId: string, pattern: string, opts: { volumeId?: string; limit?: number } = {}): Promise<FileSearchResult> {
    return this.get(`restore-points/${enc(rpId)}/search?${query({ pattern, volumeId: opts.volumeId, limit: opts.limit })}`);
  }
  /** A short-lived link the browser can open without the session header; `url` is absolute. */
  async fileDownloadLink(rpId: string, body: FileDownloadLinkRequest): Promise<FileDownloadLink> {
    const link = await this.post<FileDownloadLink>(`restore-points/${enc(rpId)}/download-links`, body);
    return { ...link, url: this.auth.url(link.url) };
  }
  /** Restores files into the VM's guest: a run of kind 'file-restore' (202), followed like any run. */
  putBackFiles(rpId: string, body: FileRestoreRequest): Promise<JobRun> { return this.post(`restore-points/${enc(rpId)}/files/restore`, body); }
  /** The files a name or glob matches in every restore point of the VM (from the file catalogs), grouped into versions. */
  fileVersions(vmId: string, name: string, limit?: number): Promise<FileVersions> { return this.get(`vms/${enc(vmId)}/file-versions?${query({ name, limit })}`); }
}

/** `a=1&b=x` from the defined values only. */
function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  return q.toString();
}

const enc = encodeURIComponent;

export class ApiFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
  static from(e: unknown): ApiFailure {
    if (e instanceof ApiFailure) return e;
    if (e instanceof HttpErrorResponse) {
      const body = e.error as Partial<ApiError> | null;
      if (body && typeof body === 'object' && body.message) return new ApiFailure(e.status, body.error ?? 'error', body.message);
      return new ApiFailure(e.status, e.status === 0 ? 'unreachable' : 'http_' + e.status, e.status === 0 ? 'The Stillpoint service cannot be reached.' : e.message);
    }
    return new ApiFailure(0, 'error', String((e as Error)?.message ?? e));
  }
}
/** Human message for any error thrown by Api. */
export function errorText(e: unknown): string { return ApiFailure.from(e).message; }
