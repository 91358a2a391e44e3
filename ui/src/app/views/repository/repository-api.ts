import { HttpClient } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom, type Observable } from 'rxjs';
import type { JobRun, RepositoryOverviewDto, RetentionPreviewDto } from '@contract';
import { ApiFailure } from '../../core/api';
import { AuthService } from '../../core/auth';

/** The repository page's calls (backend/api/routes/repository.ts and the maintenance routes). */
@Injectable({ providedIn: 'root' })
export class RepositoryApi {
  private readonly http = inject(HttpClient);
  private readonly auth = inject(AuthService);
  private async wrap<T>(o: Observable<T>): Promise<T> {
    try { return await firstValueFrom(o); } catch (e) { throw ApiFailure.from(e); }
  }
  overview(): Promise<RepositoryOverviewDto> { return this.wrap(this.http.get<RepositoryOverviewDto>(this.auth.url('repository'))); }
  retentionPreview(jobId?: string): Promise<RetentionPreviewDto> {
    return this.wrap(this.http.get<RetentionPreviewDto>(this.auth.url('repository/retention-preview'), jobId ? { params: { jobId } } : {}));
  }
  applyRetention(jobId: string): Promise<JobRun> { return this.wrap(this.http.post<JobRun>(this.auth.url(`repository/retention/${encodeURIComponent(jobId)}/run`), {})); }
  runMaintenance(kind: 'gc' | 'verify'): Promise<JobRun> { return this.wrap(this.http.post<JobRun>(this.auth.url(`maintenance/${kind}/run`), {})); }
  run(id: string): Promise<JobRun> { return this.wrap(this.http.get<JobRun>(this.auth.url(`runs/${encodeURIComponent(id)}`))); }
}
