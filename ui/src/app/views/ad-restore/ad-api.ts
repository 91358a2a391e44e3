import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom, type Observable } from 'rxjs';
import type {
  AdAnswer, AdComparison, AdConnection, AdDatabaseInfo, AdObject, AdObjectSummary, AdRestoreReport, AdRestoreRequest, JobRun,
} from '@contract';
import { ApiFailure } from '../../core/api';
import { AuthService } from '../../core/auth';

const enc = encodeURIComponent;

/** Client of the Active Directory routes (backend/api/routes/active-directory.ts). */
@Injectable({ providedIn: 'root' })
export class AdApi {
  private readonly http = inject(HttpClient);
  private readonly auth = inject(AuthService);
  private async wrap<T>(o: Observable<T>): Promise<T> {
    try { return await firstValueFrom(o); } catch (e) { throw ApiFailure.from(e); }
  }
  private get<T>(path: string): Promise<T> { return this.wrap(this.http.get<T>(this.auth.url(path))); }
  private post<T>(path: string, body: unknown): Promise<T> { return this.wrap(this.http.post<T>(this.auth.url(path), body)); }

  info(rpId: string): Promise<AdDatabaseInfo> { return this.get(`restore-points/${enc(rpId)}/ad`); }
  children(rpId: string, dn: string, deleted: boolean): Promise<AdAnswer<AdObjectSummary[]>> {
    return this.get(`restore-points/${enc(rpId)}/ad/children?dn=${enc(dn)}&deleted=${deleted}`);
  }
  search(rpId: string, text: string, deleted: boolean): Promise<AdAnswer<AdObjectSummary[]>> {
    return this.get(`restore-points/${enc(rpId)}/ad/search?text=${enc(text)}&deleted=${deleted}&limit=500`);
  }
  object(rpId: string, ref: string): Promise<AdAnswer<AdObject>> { return this.get(`restore-points/${enc(rpId)}/ad/object?ref=${enc(ref)}`); }
  ldif(rpId: string, ref: string): Promise<string> { return this.wrap(this.http.get(this.auth.url(`restore-points/${enc(rpId)}/ad/ldif?ref=${enc(ref)}`), { responseType: 'text' })); }
  compare(rpId: string, ref: string, connection: AdConnection): Promise<AdComparison> {
    return this.post(`restore-points/${enc(rpId)}/ad/compare`, { ref, connection });
  }
  restore(rpId: string, body: AdRestoreRequest): Promise<JobRun> { return this.post(`restore-points/${enc(rpId)}/ad/restore`, body); }
  report(runId: string): Promise<AdRestoreReport> { return this.get(`ad-restores/${enc(runId)}`); }
}
