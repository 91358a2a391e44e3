import { Directive, ElementRef, afterRenderEffect, inject } from '@angular/core';
import { I18n } from '../core/i18n';

/**
 * Clarity's number input draws − and + buttons without accessible names; this names them after the field
 * ("Decrease Concurrency", "Nebenläufigkeit verringern") in the current language.
 */
@Directive({ selector: 'clr-number-input-container' })
export class NumberStepperLabels {
  constructor() {
    const host = inject<ElementRef<HTMLElement>>(ElementRef).nativeElement;
    const i18n = inject(I18n);
    afterRenderEffect(() => {
      i18n.locale();
      const field = host.querySelector('label')?.textContent?.trim() ?? '';
      const [down, up] = host.querySelectorAll<HTMLButtonElement>('.clr-input-group-actions button');
      down?.setAttribute('aria-label', i18n.t('form.decrease', { field }));
      up?.setAttribute('aria-label', i18n.t('form.increase', { field }));
    });
  }
}
