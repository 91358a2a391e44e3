import { Component, input, output } from '@angular/core';
import { TranslatePipe } from '../core/i18n';

/** Danger alert with the API's human message and an optional retry. */
@Component({
  selector: 'sp-error',
  imports: [TranslatePipe],
  template: `
    @if (message()) {
      <div class="alert alert-danger alert-sm" role="alert">
        <div class="alert-items"><div class="alert-item static">
          <span class="alert-text">{{ message() }}</span>
          @if (retryable()) { <div class="alert-actions"><button type="button" class="btn alert-action" (click)="retry.emit()">{{ 'common.retry' | t }}</button></div> }
        </div></div>
      </div>
    }`,
})
export class ErrorAlert {
  readonly message = input<string | null>(null);
  readonly retryable = input(false);
  readonly retry = output<void>();
}
