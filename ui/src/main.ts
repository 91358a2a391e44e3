import { bootstrapApplication } from '@angular/platform-browser';
import { App } from './app/app';
import { appConfig } from './app/app.config';
import { initSdk } from './app/sdk/sdk.service';

// Inside vCenter, wait for htmlClientSdk.initialize() before anything asks it for context.
initSdk()
  .then(() => bootstrapApplication(App, appConfig))
  .catch((err: unknown) => console.error(err));
