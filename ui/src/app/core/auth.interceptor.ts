import { type HttpErrorResponse, type HttpEvent, type HttpHandlerFn, type HttpInterceptorFn, type HttpRequest } from '@angular/common/http';
import { inject } from '@angular/core';
import { type Observable, catchError, from, switchMap, throwError } from 'rxjs';
import { SdkService } from '../sdk/sdk.service';
import { AuthService } from './auth';

/** Adds `vmware-api-session-id` (plugin) or `Authorization: Bearer` (standalone) to API calls; handles 401. */
export const authInterceptor: HttpInterceptorFn = (req, next) => {
  const auth = inject(AuthService);
  const sdk = inject(SdkService);
  if (!auth.isApiUrl(req.url) || req.url.endsWith('/api/session/login')) return next(req);
  const send = (refresh: boolean): Observable<HttpEvent<unknown>> =>
    from(auth.token(refresh)).pipe(switchMap((token) => next(withToken(req, token, sdk.isPlugin))));
  return send(false).pipe(
    catchError((err: HttpErrorResponse) => {
      if (err.status !== 401) return throwError(() => err);
      // Plugin tokens can be rotated by the client: ask once more before giving up.
      const retry = sdk.isPlugin ? send(true) : throwError(() => err);
      return retry.pipe(catchError((e: HttpErrorResponse) => {
        if (e.status === 401) auth.unauthorized((e.error as { message?: string } | null)?.message);
        return throwError(() => e);
      }));
    }),
  );
};

function withToken(req: HttpRequest<unknown>, token: string | null, plugin: boolean): HttpRequest<unknown> {
  if (!token) return req;
  return req.clone({ setHeaders: plugin ? { 'vmware-api-session-id': token } : { Authorization: `Bearer ${token}` } });
}
export type { HttpHandlerFn };
