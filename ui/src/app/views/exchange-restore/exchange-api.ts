import { HttpClient, HttpErrorResponse, type HttpResponse } from '@angular/common/http';
import { Injectable, inject } from '@angular/core';
import { firstValueFrom, type Observable } from 'rxjs';
import type {
  ExchangeAnswerDto, ExchangeDatabaseInfo, ExchangeDeliveryReport, ExchangeFolderDto, ExchangeMessageDto, ExchangeMessageSummaryDto,
  ExchangeRestoreRequest, ExchangeSendRequest, JobRun,
} from '@contract';
import { ApiFailure } from '../../core/api';
import { AuthService } from '../../core/auth';

const enc = encodeURIComponent;

/** What the message list can be narrowed by (the API's search; empty fields are left out). */
export interface ExchangeQuery { from?: string; subject?: string; after?: string; before?: string; attachment?: string; folderId?: string }

/** A downloaded file: its bytes and the name the service gave it (Content-Disposition). */
export interface DownloadedFile { blob: Blob; fileName: string }

/** Client of the Exchange routes (backend/api/routes/exchange.ts). */
@Injectable({ providedIn: 'root' })
export class ExchangeApi {
  private readonly http = inject(HttpClient);
  private readonly auth = inject(AuthService);
  private async wrap<T>(o: Observable<T>): Promise<T> {
    try { return await firstValueFrom(o); } catch (e) { throw ApiFailure.from(await readBlobError(e)); }
  }
  private get<T>(path: string): Promise<T> { return this.wrap(this.http.get<T>(this.auth.url(path))); }
  private post<T>(path: string, body: unknown): Promise<T> { return this.wrap(this.http.post<T>(this.auth.url(path), body)); }
  private base(rpId: string): string { return `restore-points/${enc(rpId)}/exchange`; }

  info(rpId: string): Promise<ExchangeDatabaseInfo> { return this.get(this.base(rpId)); }
  folders(rpId: string, mailbox: number): Promise<ExchangeAnswerDto<ExchangeFolderDto[]>> { return this.get(`${this.base(rpId)}/mailboxes/${mailbox}/folders`); }
  messages(rpId: string, mailbox: number, q: ExchangeQuery): Promise<ExchangeAnswerDto<ExchangeMessageSummaryDto[]>> {
    const params = Object.entries(q).filter(([, v]) => typeof v === 'string' && v.trim()).map(([k, v]) => `${k}=${enc(String(v).trim())}`);
    return this.get(`${this.base(rpId)}/mailboxes/${mailbox}/messages?${[...params, 'limit=5000'].join('&')}`);
  }
  message(rpId: string, mailbox: number, doc: number): Promise<ExchangeAnswerDto<ExchangeMessageDto>> { return this.get(`${this.base(rpId)}/mailboxes/${mailbox}/messages/${doc}`); }
  exportMessage(rpId: string, mailbox: number, doc: number, format: 'eml' | 'msg'): Promise<DownloadedFile> {
    return this.file(`${this.base(rpId)}/mailboxes/${mailbox}/messages/${doc}/export?format=${format}`, `message.${format}`);
  }
  exportFolder(rpId: string, mailbox: number, folderId: string): Promise<DownloadedFile> {
    return this.file(`${this.base(rpId)}/mailboxes/${mailbox}/folders/${enc(folderId)}/export`, 'folder.zip');
  }
  restore(rpId: string, body: ExchangeRestoreRequest): Promise<JobRun> { return this.post(`${this.base(rpId)}/restore`, body); }
  send(rpId: string, body: ExchangeSendRequest): Promise<JobRun> { return this.post(`${this.base(rpId)}/send`, body); }
  report(runId: string): Promise<ExchangeDeliveryReport> { return this.get(`exchange-deliveries/${enc(runId)}`); }

  private async file(path: string, fallbackName: string): Promise<DownloadedFile> {
    const res: HttpResponse<Blob> = await this.wrap(this.http.get(this.auth.url(path), { observe: 'response', responseType: 'blob' }));
    return { blob: res.body ?? new Blob([]), fileName: fileNameOf(res.headers.get('content-disposition')) ?? fallbackName };
  }
}

/** The file name of a Content-Disposition header (RFC 6266: filename* in UTF-8 first, else filename). */
export function fileNameOf(header: string | null): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star) { try { return decodeURIComponent(star[1]!.trim()); } catch { /* fall through to the plain name */ } }
  return /filename\s*=\s*"?([^";]+)"?/i.exec(header)?.[1];
}

/** A failed blob request carries the API's JSON error as a Blob: read it so that its message is shown. */
async function readBlobError(e: unknown): Promise<unknown> {
  if (!(e instanceof HttpErrorResponse) || !(e.error instanceof Blob)) return e;
  try {
    const body = JSON.parse(await e.error.text()) as { error?: string; message?: string };
    if (body?.message) return new ApiFailure(e.status, body.error ?? 'error', body.message);
  } catch { /* not JSON: the status says it */ }
  return e;
}
