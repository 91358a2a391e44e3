// The route table of the Stillpoint UI (hash routes: index.html#/<path>). Plain data, no imports, so that
// test/manifest/manifest.test.ts can load it with Node and check every manifest `uri` against it.
export const ROUTE_PATHS = {
  login: 'login',
  dashboard: 'dashboard',
  vms: 'vms',
  jobs: 'jobs',
  jobNew: 'jobs/new',
  jobEdit: 'jobs/:id',
  vmSummary: 'vm/summary',
  vmMonitor: 'vm/monitor',
  vmConfigure: 'vm/configure',
  actionBackup: 'actions/backup',
  actionRestore: 'actions/restore',
  actionRecoverFiles: 'actions/recover-files',
  actionRestoreAd: 'actions/restore-ad',
  actionRestoreExchange: 'actions/restore-exchange',
  actionAddToJob: 'actions/add-to-job',
  runs: 'runs',
  notifications: 'notifications',
  actionReplicate: 'actions/replicate',
  replication: 'replication',
  repository: 'repository',
} as const;

export type RouteName = keyof typeof ROUTE_PATHS;

/** Does `path` (without query) match a route pattern (`:param` segments match any one segment)? */
export function matchesRoute(path: string): boolean {
  const segs = path.replace(/^\//, '').split('?')[0].split('/');
  return Object.values(ROUTE_PATHS).some((pattern) => {
    const p = pattern.split('/');
    return p.length === segs.length && p.every((s, i) => s.startsWith(':') ? segs[i].length > 0 : s === segs[i]);
  });
}
