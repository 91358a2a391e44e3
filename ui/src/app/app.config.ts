import { provideHttpClient, withInterceptors } from '@angular/common/http';
import { type ApplicationConfig, effect, inject, provideAppInitializer, provideZoneChangeDetection } from '@angular/core';
import { ClrCommonStringsService } from '@clr/angular';
import { CLARITY_DE } from './core/clarity-strings';
import { provideAnimations } from '@angular/platform-browser/animations';
import { provideRouter, withComponentInputBinding, withHashLocation } from '@angular/router';
import { routes } from './app.routes';
import { authInterceptor } from './core/auth.interceptor';
import { serviceTextInterceptor } from './core/service-texts';
import { AuthService } from './core/auth';
import { I18n } from './core/i18n';
import { ThemeService } from './core/theme';
import { SdkService } from './sdk/sdk.service';
import { registerIcons } from './shared/icons';

export const appConfig: ApplicationConfig = {
  providers: [
    provideZoneChangeDetection({ eventCoalescing: true }),
    provideAnimations(),
    provideRouter(routes, withHashLocation(), withComponentInputBinding()),
    provideHttpClient(withInterceptors([authInterceptor, serviceTextInterceptor])),
    provideAppInitializer(() => {
      const sdk = inject(SdkService);
      registerIcons();
      const i18n = inject(I18n);
      i18n.init(sdk.clientLocale());
      // Clarity's own strings follow the locale too.
      const clr = inject(ClrCommonStringsService);
      const english = { ...clr.keys };
      effect(() => clr.localize(i18n.locale() === 'de-DE' ? CLARITY_DE : english));
      inject(ThemeService).init();
      return inject(AuthService).init();
    }),
  ],
};
