import { DestroyRef, inject } from '@angular/core';
import type { ServerEvent } from '@contract';
import { EventsService } from '../core/events';
import { SdkService } from '../sdk/sdk.service';

/**
 * Keeps a view current until it is destroyed: `load` runs when the vSphere Client refreshes (its refresh
 * button, or after an action's modal closed), `onEvent` for every server event. Call it from a
 * view's constructor (it injects).
 */
export function liveView(load: () => void, onEvent?: (e: ServerEvent) => void): void {
  const subs = [inject(SdkService).refresh$.subscribe(load)];
  if (onEvent) subs.push(inject(EventsService).events$.subscribe(onEvent));
  inject(DestroyRef).onDestroy(() => { for (const s of subs) s.unsubscribe(); });
}
