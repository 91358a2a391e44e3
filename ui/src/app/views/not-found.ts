import { Component } from '@angular/core';
import { RouterLink } from '@angular/router';
import { TranslatePipe } from '../core/i18n';

@Component({
  selector: 'sp-not-found',
  imports: [RouterLink, TranslatePipe],
  template: `<div class="sp-page"><h2>{{ 'notFound.title' | t }}</h2><p><a routerLink="/dashboard">{{ 'nav.dashboard' | t }}</a></p></div>`,
})
export class NotFoundPage {}
