import { inject } from '@angular/core';
import { Router, type Routes } from '@angular/router';
import { AuthService } from './core/auth';
import { ROUTE_PATHS as P } from './route-paths';

/** Standalone mode needs a login first; inside vCenter the client's session is used. */
const loggedIn = () => inject(AuthService).isLoggedIn() || inject(Router).createUrlTree(['/login'], { queryParams: { returnUrl: location.hash.slice(1) || '/dashboard' } });

export const routes: Routes = [
  { path: '', pathMatch: 'full', redirectTo: P.dashboard },
  { path: P.login, loadComponent: () => import('./views/login').then((m) => m.LoginPage) },
  {
    path: '', canActivateChild: [loggedIn], children: [
      { path: P.dashboard, loadComponent: () => import('./views/dashboard').then((m) => m.DashboardPage) },
      { path: P.vms, loadComponent: () => import('./views/vm-list').then((m) => m.VmListPage) },
      { path: P.jobs, loadComponent: () => import('./views/job-list').then((m) => m.JobListPage) },
      { path: P.jobNew, loadComponent: () => import('./views/job-wizard').then((m) => m.JobWizardPage) },
      { path: P.jobEdit, loadComponent: () => import('./views/job-wizard').then((m) => m.JobWizardPage) },
      { path: P.vmSummary, loadComponent: () => import('./views/vm-summary').then((m) => m.VmSummaryCard) },
      { path: P.vmMonitor, loadComponent: () => import('./views/vm-monitor').then((m) => m.VmMonitorView) },
      { path: P.vmConfigure, loadComponent: () => import('./views/vm-configure').then((m) => m.VmConfigureView) },
      { path: P.actionBackup, loadComponent: () => import('./views/backup-now').then((m) => m.BackupNowModal) },
      { path: P.actionRestore, loadComponent: () => import('./views/restore-wizard').then((m) => m.RestoreWizard) },
      { path: P.actionRecoverFiles, loadComponent: () => import('./views/file-restore/recover-files').then((m) => m.RecoverFilesModal) },
      { path: P.actionRestoreAd, loadComponent: () => import('./views/ad-restore/ad-restore').then((m) => m.AdRestoreModal) },
      { path: P.actionRestoreExchange, loadComponent: () => import('./views/exchange-restore/exchange-restore').then((m) => m.ExchangeRestoreModal) },
      { path: P.runs, loadComponent: () => import('./views/runs').then((m) => m.RunsPage) },
      { path: P.notifications, loadComponent: () => import('./views/notifications/notification-settings').then((m) => m.NotificationSettingsPage) },
      { path: P.actionAddToJob, loadComponent: () => import('./views/add-to-job').then((m) => m.AddToJobModal) },
      { path: P.actionReplicate, loadComponent: () => import('./views/replication/replicate').then((m) => m.ReplicateModal) },
      { path: P.replication, loadComponent: () => import('./views/replication/dr-view').then((m) => m.DrView) },
      { path: P.repository, loadComponent: () => import('./views/repository/repository-page').then((m) => m.RepositoryPage) },
    ],
  },
  { path: '**', loadComponent: () => import('./views/not-found').then((m) => m.NotFoundPage) },
];
