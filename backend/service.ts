// The composition root: builds the service from its configuration (the sites' vCenter connections,
// repository, jobs, API) and serves it over HTTPS. Everything long-lived is created here and closed
// in close(). Several vCenters (sites) may be configured: ids are site-qualified (model/site.ts) and
// every action on a VM, host or datastore goes to the vCenter of its site.
import { createServer, type Server } from 'node:https';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isIP, type AddressInfo } from 'node:net';
import { lookup } from 'node:dns/promises';
import { createApp } from './api/server.ts';
import { SERVER_LIMITS } from './api/http.ts';
import { Auth, type SessionSources } from './api/auth.ts';
import { EventBus } from './api/events.ts';
import type { Health } from './api/contract.ts';
import type { Job, Run } from './model/job.ts';
import { jobToDto, runToDto } from './api/mappers.ts';
import { NotFound, Unauthorized, Unavailable } from './common/errors.ts';
import { childLog } from './common/log.ts';
import { SecretBox } from './common/secrets.ts';
import { loadOrCreateServerCert } from './common/tls-cert.ts';
import type { Config } from './config.ts';
import { JobStore } from './jobs/store.ts';
import { InventoryView } from './service/inventory-view.ts';
import { userSession, type SiteSession } from './service/user-session.ts';
import { Sites } from './service/sites.ts';
import { VSphere } from './vsphere/index.ts';
import { Repository } from './repository/repository.ts';
import { existsSync } from 'node:fs';
import { SessionJournal } from './sources/snapshot/journal.ts';
import { startHeartbeat } from './sources/snapshot/ownership.ts';
import { CleanupRetrier } from './sources/snapshot/cleanup-retry.ts';
import { loadOrCreateNodeIdentity } from './service/node-identity.ts';
import { recoverLeftovers } from './sources/snapshot/recovery.ts';
import { VmLocks } from './sources/snapshot/vm-lock.ts';
import { JobRunner } from './jobs/runner.ts';
import { BackupKind, backupNow } from './jobs/kinds/backup.ts';
import { RestoreKind, type RestoreFn, type RestoreParams } from './jobs/kinds/restore.ts';
import { registerMaintenance } from './jobs/maintenance.ts';
import { restoreVm } from './restore/index.ts';
import { Scheduler } from './jobs/scheduler.ts';
import { operationRoutes } from './api/routes/operations.ts';
import { fileRoutes } from './api/routes/files.ts';
import { catalogRoutes } from './api/routes/catalog.ts';
import { CatalogService, type CatalogParams } from './file-restore/catalog/service.ts';
import { FileRestore } from './file-restore/sessions.ts';
import { FileRestoreKind, type FileRestoreParams } from './jobs/kinds/file-restore.ts';
import { fileRestoreRunRoutes } from './api/routes/file-restore-runs.ts';
import { activeDirectoryRoutes } from './api/routes/active-directory.ts';
import { PointDirectories } from './active-directory/point-directory.ts';
import { AdRestoreKind, AdRestoreReports, type AdRestoreParams } from './active-directory/restore-run.ts';
import { PendingSecrets } from './app-items/pending-secrets.ts';
import { exchangeRoutes } from './api/routes/exchange.ts';
import { PointMailboxes } from './exchange/point-mailboxes.ts';
import { ExchangeDeliverKind, ExchangeDeliveryReports, type ExchangeDeliverParams } from './exchange/deliver-run.ts';
import { guestFamily } from './model/guest.ts';
import { TASK_TYPES } from './model/vcenter-tasks.ts';
import { dashboard, restorePointDto } from './service/views.ts';
import { GrowthHistory } from './service/growth-history.ts';
import { InvalidLoginError, VCenterUnreachableError } from './vsphere/faults.ts';
import { sessionFromPluginToken } from '../plugin/session-bridge.ts';
import { Publications } from './publish/publications.ts';
import { publishRoutes } from './api/routes/publish.ts';
import { ReplicateKind, type ReplicateParams } from './replication/run-kind.ts';
import { allReplicas, permanentFailovers, replicaOf } from './replication/replica-state.ts';
import { replicationRoutes } from './api/routes/replication.ts';
import { FAILOVER_KINDS, FailoverOpKind, FailoverPlanKind, type FailoverKindDeps } from './replication/failover/run-kinds.ts';
import { FailoverPlans } from './replication/failover/plans.ts';
import { restoreHolds } from './replication/failover/holds.ts';
import { failoverRoutes } from './api/routes/failover.ts';
import { replicaByRef } from './replication/replica-state.ts';
import { NotificationStore } from './notifications/settings.ts';
import { Notifier } from './notifications/notifier.ts';
import { notificationRoutes } from './api/routes/notifications.ts';
import { repositoryRoutes } from './api/routes/repository.ts';
import { lastReplicas, newest, protectionWindowHours } from './service/protection.ts';
import { AlarmMonitor } from './alarms/monitor.ts';
import { devhostVcenterRoutes } from './api/routes/devhost-vcenter.ts';
import { transporterRoutes } from './api/routes/transporter.ts';
import { TransporterHub, vcenterAccess } from './replication/transport/hub.ts';
import { ReplicationKind } from './replication/jobs/kind.ts';
import { ReplicationHealth } from './replication/jobs/health-check.ts';

const log = childLog('service');
const rootDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const version = (JSON.parse(readFileSync(join(rootDir, 'package.json'), 'utf8')) as { version: string }).version;

export interface RunningService {
  url: string;
  /** PEM of the server certificate (clients pin or trust it). */
  cert: string;
  thumbprint: string;
  config: Config;
  /** Settles when start-up recovery has run (or was postponed because vCenter is down). */
  recovery: Promise<void>;
  close(): Promise<void>;
}

export interface ServiceExtras {
  /** Demo/tests with the dev host: issues vSphere Client session tokens (the lab's stand-in for vCenter's UI login). */
  devHostUiSession?: (username: string, password: string) => Promise<string>;
}

export async function startService(config: Config, extras: ServiceExtras = {}): Promise<RunningService> {
  const box = SecretBox.forDataDir(config.dataDir);
  const sites = new Sites(config.vcenters?.length ? config.vcenters : [config.vcenter]);
  const primary = sites.primary;
  const jobs = new JobStore(config.dataDir, box, { serviceAccount: config.vcenter.username });
  const events = new EventBus();
  const notificationStore = new NotificationStore(config.dataDir, box);
  const inventoryWindow = protectionWindowHours();
  const growthHistory = new GrowthHistory(config.dataDir);
  let serviceUrl: string | undefined;
  /** A job's VMs now: the listed ones plus the members of its folders. */
  const jobVms = async (job: Pick<Job, 'vmIds' | 'folderIds'>): Promise<string[]> =>
    [...new Set([...job.vmIds, ...(await inventory.folderMembers(job.folderIds ?? []))])];
  const inventory = new InventoryView(sites, {
    protectedVms: async () => {
      const map = new Map<string, { nextRun?: string; scheduled?: boolean }>();
      for (const j of jobs.jobs().filter((x) => x.enabled)) {
        const members = await jobVms(j).catch(() => j.vmIds);
        for (const id of members) {
          const prev = map.get(id)?.nextRun;
          const scheduled = map.get(id)?.scheduled === true || j.schedule.cron !== null;
          map.set(id, { ...(j.nextRun && (!prev || j.nextRun < prev) ? { nextRun: j.nextRun } : prev ? { nextRun: prev } : {}), scheduled });
        }
      }
      return map;
    },
    windowHours: inventoryWindow,
    // Newest good restore point (the repository's) or replica (the run history's) per VM.
    lastProtected: async () => {
      const points = new Map<string, string>();
      for (const p of await (await repo()).listRestorePoints().catch(() => [])) if ((points.get(p.vm.id) ?? '') < p.createdAt) points.set(p.vm.id, p.createdAt);
      return newest(points, lastReplicas(jobs.runs({ limit: 10_000 })));
    },
    lastBackup: (vmId) => {
      const run = jobs.runs({ vmId, limit: 20 }).find((r) => r.kind === 'backup' && r.status !== 'running' && r.status !== 'queued');
      const v = run?.vms.find((x) => x.vmId === vmId);
      return run && v ? { at: run.endedAt ?? run.startedAt, status: v.status, ...(v.consistency ? { consistency: v.consistency } : {}), ...(v.restorePointId ? { restorePointId: v.restorePointId } : {}) } : undefined;
    },
  });

  const sources: SessionSources = {
    // Standalone: the same vCenter credentials at every site, in parallel. A site that refuses them
    // (or cannot be reached) is not visible to this session; refused everywhere is 401.
    async login(username, password) {
      const tries = await Promise.allSettled(sites.list().map(async (s) => ({
        site: s.id, vs: await VSphere.connect({ url: s.config.url, username, password, thumbprint: s.config.thumbprint, wsdl: s.config.wsdl }),
      } satisfies SiteSession)));
      const ok = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
      const failed = tries.flatMap((t, i) => (t.status === 'rejected' ? [{ site: sites.list()[i]!.id, e: t.reason as Error }] : []));
      for (const f of failed) log.info({ site: f.site, user: username, err: f.e.message }, 'login not accepted at this site');
      if (ok.length) return userSession(ok, username, primary);
      if (failed.every((f) => f.e instanceof InvalidLoginError)) {
        throw new Unauthorized(`vCenter refused the user name or password${sites.multiple ? ' at every site' : ''}: check them (user@domain, e.g. administrator@vsphere.local).`);
      }
      const down = failed.find((f) => f.e instanceof VCenterUnreachableError);
      if (down) {
        const e = down.e as VCenterUnreachableError;
        throw new Unavailable('vcenter_unreachable', `Cannot log in${sites.multiple ? ` at site '${down.site}'` : ''}: ${e.message}. ${e.hint}`, e);
      }
      throw failed.find((f) => !(f.e instanceof InvalidLoginError))!.e;
    },
    // Plugin: the token is the primary vCenter's (the vSphere Client the plugin is registered in).
    async fromPluginToken(token) {
      const { vs, username } = await sessionFromPluginToken(config.vcenter, token);
      return userSession([{ site: primary, vs }], username, primary);
    },
  };
  const auth = new Auth(sources, { trustedProxies: await vCenterAddresses(sites.list().map((s) => s.config.url)) });

  // The repository: opened (or created on first start) now; a problem shows in health and as 503s.
  let repoError: Error | undefined;
  const repoOpening = (existsSync(join(config.repository.path, 'config.json'))
    ? Repository.open(config.repository.path, { passphrase: config.repository.passphrase, command: 'stillpoint service' })
    : Repository.init(config.repository.path, {
      passphrase: config.repository.passphrase, command: 'stillpoint service',
      ...(config.repository.chunkKiB ? { chunkSize: config.repository.chunkKiB * 1024 } : {}),
    }));
  repoOpening.catch((e: Error) => { repoError = e; log.error({ err: e.message }, 'cannot open the repository'); });
  const repo = async (): Promise<Repository> => {
    try { return await repoOpening; } catch (e) { throw new Unavailable('repository_unavailable', `The backup repository at ${config.repository.path} cannot be used: ${(e as Error).message}`, e); }
  };

  // One snapshot-session journal per site (morefs repeat across vCenters): the primary's stays where
  // it always was, the others' under <dataDir>/sites/<id>.
  // Snapshots and journal entries name this node; peers see it alive by its heartbeat in each vCenter (sources/snapshot/ownership.ts).
  const node = loadOrCreateNodeIdentity(config.dataDir);
  const journals = new Map(sites.ids().map((id) => [id, new SessionJournal(id === primary ? config.dataDir : join(config.dataDir, 'sites', id), node)]));
  const heartbeats = sites.ids().map((id) => startHeartbeat(() => sites.vs(id), node));
  const cleanup = new CleanupRetrier();
  const journal = (site: string): SessionJournal => journals.get(site)!;
  const locks = new VmLocks();
  /** A (site-qualified) VM id's own vCenter, the VM's bare reference there, and its site. */
  const vmAt = async (vmId: string) => {
    const { site, moref } = sites.parse(vmId, 'VM');
    return { vs: await sites.vs(site), vm: { type: 'VirtualMachine', value: moref }, moref, site };
  };
  // A restore goes to the restore point's own site; host and datastore are resolved in that vCenter.
  const restore: RestoreFn = async (id, target, opts) => {
    const r = await repo();
    const rp = await r.getRestorePoint(id).catch(() => undefined);
    if (!rp) throw new NotFound('Restore point', id, 'list the restore points of the VM and pick one of them.');
    const { site } = sites.parse(rp.vm.id, 'VM');
    const local = target.kind === 'new'
      ? { ...target, host: sites.localArg(site, target.host, 'Host'), datastore: sites.localArg(site, target.datastore, 'Datastore') } : target;
    const done = await restoreVm({ vs: await sites.vs(site), repo: r }, id, local, opts);
    return { ...done, vmId: sites.format(site, done.vmId) };
  };
  const runner = new JobRunner({
    store: jobs,
    publish: (e) => events.publish(e.type === 'run' ? { type: 'run', run: runToDto(e.run) } : { type: 'job', job: jobToDto(e.job) }),
    jobVms,
    vmName: async (id) => (await inventory.vms().catch(() => [])).find((v) => v.id === id)?.name ?? id,
    onRunFinished: (run) => { notifier.runFinished(run); alarmMonitor.runFinished(run); },
  });
  runner.registerVmKind(new BackupKind({
    store: jobs,
    // The VM's own vCenter; vSphere is called with the bare moref, the run and the restore point keep the qualified id.
    backupDeps: async (vmId) => {
      const { vs, moref, site } = await vmAt(vmId);
      return { vs, repo: await repo(), journal: journal(site), locks, moref, site, cleanup };
    },
    holder: (vmId) => locks.holder(vmId),
    onRestorePoint: (rp, runId) => {
      inventory.invalidate();
      catalogs.afterBackup(rp);
      events.publish({ type: 'restorePoint', restorePoint: restorePointDto(rp, () => [jobs.run(runId)], siteOf) });
    },
    queueRetention: (job) => { runner.runTask('retention', 'Stillpoint (after the job\'s run)', job); },
  }));
  runner.registerVmKind(new RestoreKind({ restore, takeVm: (vmId, owner) => locks.tryAcquire(vmId, owner), onRestored: () => inventory.invalidate() }));
  // Transporters (hot-add replication): pairings in the data folder, registrations in memory.
  const transporterHub = new TransporterHub(config.dataDir);
  const transportersAt = (site: string) => ({ forDatastore: (vs: VSphere, ds: { type: string; value: string }) => transporterHub.forDatastore(vs, site, ds) });
  // Replication to the DR site (same vCenter as the source VM in this version).
  runner.registerVmKind(new ReplicateKind({
    replicateDeps: async (vmId) => { const { vs, moref, site } = await vmAt(vmId); return { vs, journal: journal(site), locks, moref, transporters: transportersAt(site) }; },
    holder: (vmId) => locks.holder(vmId), guestCredentials: (id) => jobs.credentialSecret(id), onReplicated: () => inventory.invalidate(),
  }));
  // Failover, failback and failover plans of replicas (the replica's own vCenter), each a run kind.
  const failoverPlans = new FailoverPlans(config.dataDir);
  const failoverKindDeps: FailoverKindDeps = {
    at: async (vmId) => { const { vs, moref } = await vmAt(vmId); return { vs, moref }; },
    locks, dataDir: config.dataDir, plans: failoverPlans, guestCredentials: (id) => jobs.credentialSecret(id), onChanged: () => inventory.invalidate(),
    replicateDeps: async (vmId) => { const { vs, moref, site } = await vmAt(vmId); return { vs, journal: journal(site), locks, moref, transporters: transportersAt(site) }; },
    // Failback: a transporter at production (the replica's vCenter), and jobs re-pointed to a new VM.
    transportersFor: (vmId) => transportersAt(sites.parse(vmId, 'VM').site),
    repointSource: (from, to) => jobs.jobs().filter((j) => j.kind === 'replication' && j.vmIds.includes(from))
      .map((j) => jobs.updateJob(j.id, { vmIds: [...new Set(j.vmIds.map((v) => (v === from ? to : v)))] }).name),
  };
  for (const k of FAILOVER_KINDS) runner.registerVmKind(new FailoverOpKind(k, failoverKindDeps));
  runner.registerVmKind(new FailoverPlanKind(failoverKindDeps));
  // Sources of failed-over replicas stay taken (no replication run may overwrite a running replica), also after a restart.
  void Promise.all(sites.ids().map(async (site) => restoreHolds(await sites.vs(site), locks)))
    .catch((e: Error) => log.warn({ err: e.message }, 'could not read the failed-over replicas at start: replication of their sources is not blocked until they are read'));
  // Replication jobs (kind 'replication'): scheduled replication to a DR site of any configured vCenter, with RPO health.
  const replicationHealth = new ReplicationHealth({
    jobs: () => jobs.jobs(), jobVms,
    locate: async (id) => { const r = sites.tryParse(id); return r ? { vs: await sites.vs(r.site), ref: { type: 'VirtualMachine', value: r.moref } } : undefined; },
  });
  const listReplicas = async () => (await Promise.all(sites.ids().map(async (site) => (await allReplicas(await sites.vs(site))).map((s) => ({ ...s, replicaId: sites.format(site, s.replica.value) }))))).flat();
  const checkReplicaHealth = () => void listReplicas().then((l) => replicationHealth.observe(l)).catch((e: Error) => log.warn({ err: e.message }, 'replica health check failed'));
  runner.registerVmKind(new ReplicationKind({
    // A DR site of another vCenter: the replica is written there (its transporters), the source read through its own.
    replicateDeps: async (vmId, drSite) => {
      const { vs, moref, site } = await vmAt(vmId);
      return { vs, journal: journal(site), locks, moref, transporters: transportersAt(drSite), ...(drSite !== site ? { target: await sites.vs(drSite) } : {}) };
    },
    fromBackupDeps: async (site) => ({ target: await sites.vs(site), repo: await repo(), transporters: transportersAt(site) }),
    holder: (vmId) => locks.holder(vmId), guestCredentials: (id) => jobs.credentialSecret(id),
    onReplicated: () => { inventory.invalidate(); checkReplicaHealth(); },
    permanentlyFailedOver: (vmId) => { const p = permanentFailovers(config.dataDir).find((x) => x.sourceVmId === vmId); return p && { vmName: p.vmName, at: p.at }; },
  }));
  const replicaHealthTimer = setInterval(checkReplicaHealth, 5 * 60_000);
  replicaHealthTimer.unref();
  // File catalogs of restore points: built after each backup (and on demand) as runs of their own.
  const catalogs = new CatalogService({
    dataDir: config.dataDir, repo,
    startRun: (rp, by) => runner.start<CatalogParams>({ kind: 'catalog', vmIds: [rp.vm.id], initiatedBy: by, concurrency: 1, params: { restorePointId: rp.id } }),
    vmEvent: async (vmId, text) => { const { vs, vm } = await vmAt(vmId); await vs.events.logUserEvent(vm, text); },
  });
  runner.registerVmKind(catalogs.kind());
  registerMaintenance(runner, { repo, jobVms, catalogs });
  runner.markInterrupted();
  const scheduler = new Scheduler(jobs, runner, (job) => events.publish({ type: 'job', job: jobToDto(job) }));
  scheduler.refresh();

  // Undo what a crashed predecessor left in each site's vCenter, as soon as that vCenter answers.
  const recovered = new Set<string>();
  const recoverSite = async (site: string) => {
    if (recovered.has(site)) return;
    try {
      const vs = await sites.vs(site);
      const actions = await recoverLeftovers(vs, journal(site), (id) => { try { return jobs.credentialSecret(id); } catch { return undefined; } });
      recovered.add(site);
      runner.recordRecovery(actions.map((a) => ({ ...a, vmId: sites.format(site, a.vmId) })));
      if (actions.length) log.warn({ site, actions }, 'start-up recovery cleaned up after an interrupted run');
    } catch (e) {
      log.warn({ site, err: (e as Error).message }, 'start-up recovery postponed until vCenter answers');
    }
  };
  const recover = async () => { await Promise.all(sites.ids().map(recoverSite)); };
  const recovery = recover();
  const recoveryTimer = setInterval(() => void recover().then(() => { if (recovered.size === sites.ids().length) clearInterval(recoveryTimer); }), 30_000);
  recoveryTimer.unref();

  const health = async (): Promise<Health> => {
    const all = await sites.status();
    const { id: _id, name: _name, url: _url, ...vc } = all.find((s) => s.id === primary)!;
    return {
      status: all.every((s) => s.connected) && !repoError ? 'ok' : 'degraded',
      version,
      vcenter: { url: config.vcenter.url, ...vc },
      sites: all.map((s) => ({ ...s, primary: s.id === primary })),
      repository: { path: config.repository.path, ok: !repoError, ...(repoError ? { message: repoError.message } : {}) },
    };
  };

  /** Run history, read once per request and only when a restore point of an older version needs it. */
  const allRuns = (): (() => Run[]) => { let runs: Run[] | undefined; return () => (runs ??= jobs.runs({ limit: 10_000 })); };
  function siteOf(vmId: string): string | undefined { return sites.tryParse(vmId)?.site; }
  /** A restore point by id, or undefined when the repository has none by that id (the routes answer 404). */
  const findRestorePoint = async (id: string) => (await repo()).getRestorePoint(id).catch(() => undefined);
  const restorePointById = async (id: string) => { const p = await findRestorePoint(id); return p && restorePointDto(p, allRuns(), siteOf); };
  const operations = operationRoutes({
    store: jobs, runner, inventory,
    maintenance: () => scheduler.maintenance(),
    restorePoints: async (vmId) => {
      const runs = allRuns();
      return (await (await repo()).listRestorePoints(vmId ? { vmId } : {})).sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((p) => restorePointDto(p, runs, siteOf));
    },
    restorePoint: restorePointById,
    restorePointNics: async (id) => {
      const p = await findRestorePoint(id);
      const cfg = (p?.vmConfig ?? p?.metadata?.vmConfig) as { nics?: { network?: string }[] } | undefined;
      return Array.isArray(cfg?.nics) ? cfg.nics : [];
    },
    restore: async (rp, req, user) => runToDto(await runner.start<RestoreParams>({
      kind: 'restore', vmIds: [rp.vmId], initiatedBy: user.username, concurrency: 1, params: { restorePointId: rp.id, target: req.target },
    })),
    backupNow: async (vmIds, user, jobId) => runToDto(await backupNow(runner, jobs, jobVms, vmIds, user, jobId)),
    dashboard: async (visible) => dashboard(await repo(), jobs, runner.active().map(runToDto), await inventory.vms(), visible, { protectionWindowHours: inventoryWindow, growth: growthHistory }),
    jobVms,
    jobsChanged: (job) => { scheduler.refresh(); inventory.invalidate(); if (job) events.publish({ type: 'job', job: jobToDto(jobs.job(job.id)) }); },
  });

  // File-level restore: browse sessions per restore point, parsers in isolated workers.
  const files = new FileRestore(repo);
  const filesRoutes = fileRoutes({
    files,
    restorePoint: restorePointById,
  });

  // Restored files put back into the running VM: guest operations with a stored guest credential, as a run.
  runner.registerVmKind(new FileRestoreKind({
    openPoint: (rpId) => files.open(rpId),
    guestOf: async (vmId) => {
      const { vs, vm } = await vmAt(vmId);
      const family = guestFamily((await vs.inventory.vm(vm)).guestId);
      const task = (by: string) => vs.tasks.create({ obj: vm, taskTypeId: TASK_TYPES.restoreFiles, initiatedBy: by, cancelable: false })
        .then(async (t) => { await t.running(); return t; }, () => undefined);
      return { guest: vs.guest, vm, family, task };
    },
    credential: (id) => jobs.credentialSecret(id),
  }));
  const fileRestoreRuns = fileRestoreRunRoutes({
    restorePoint: restorePointById,
    credential: (id) => jobs.credential(id),
    vm: async (vmId) => (await inventory.vms()).find((v) => v.id === vmId),
    start: async (rp, req, user) => runToDto(await runner.start<FileRestoreParams>({
      kind: 'file-restore', vmIds: [rp.vmId], initiatedBy: user.username, concurrency: 1, params: { restorePointId: rp.id, ...req },
    })),
  });

  // Active Directory objects of a DC's restore point: restored into the live DC with the user's own directory credentials.
  const adDirectories = new PointDirectories(files);
  const adSecrets = new PendingSecrets();
  const adReports = new AdRestoreReports();
  runner.registerVmKind(new AdRestoreKind({ directories: adDirectories, secrets: adSecrets, reports: adReports, files }));
  const adRoutes = activeDirectoryRoutes({
    directories: adDirectories, reports: adReports, restorePoint: restorePointById,
    start: async (rp, req, user) => {
      const { password, ...connection } = req.connection;
      const pw = req.options?.password;
      const secretsId = adSecrets.hold(password, pw?.mode === 'new' ? pw.value : undefined);
      return runToDto(await runner.start<AdRestoreParams>({
        kind: 'ad-restore', vmIds: [rp.vmId], initiatedBy: user.username, concurrency: 1,
        params: {
          restorePointId: rp.id, objects: req.objects, subtree: !!req.subtree, connection, secretsId,
          options: { ...req.options, password: { mode: pw?.mode ?? 'none', ...(pw?.mode === 'new' && pw.mustChange ? { mustChange: true } : {}) } },
        },
      }));
    },
  });

  // Exchange mail items of a mail server's restore point: restored over IMAP or sent over SMTP with the user's own mail account.
  const exchangeMailboxes = new PointMailboxes(files);
  const exchangeSecrets = new PendingSecrets();
  const exchangeReports = new ExchangeDeliveryReports();
  for (const kind of ['exchange-restore', 'exchange-send'] as const) runner.registerVmKind(new ExchangeDeliverKind(kind, { mailboxes: exchangeMailboxes, secrets: exchangeSecrets, reports: exchangeReports }));
  const exchangeApi = exchangeRoutes({
    mailboxes: exchangeMailboxes, reports: exchangeReports, restorePoint: restorePointById,
    start: async (kind, rp, req, user) => {
      const imap = 'imap' in req ? req.imap : undefined, smtp = 'smtp' in req ? req.smtp : undefined;
      const secretsId = exchangeSecrets.hold(imap?.password ?? smtp?.password ?? '');
      const strip = <T extends { password?: string }>(t: T): Omit<T, 'password'> => { const { password: _p, ...rest } = t; return rest; };
      return runToDto(await runner.start<ExchangeDeliverParams>({
        kind, vmIds: [rp.vmId], initiatedBy: user.username, concurrency: 1,
        params: { restorePointId: rp.id, mailbox: req.mailbox, messages: req.messages, ...(imap ? { imap: strip(imap) } : {}), ...(smtp ? { smtp: strip(smtp) } : {}), secretsId },
      }));
    },
  });

  // Restore-point disks published read-only over NBD: in memory only, a restart ends them.
  const publications = new Publications({
    openImage: async (rpId, disk) => (await repo()).openDiskImage(rpId, disk, { cacheBytes: 32 << 20 }),
    hold: async (rpId, why) => (await repo()).hold(rpId, why),
    listen: config.publish, ...(config.publish.urlHost ? { urlHost: config.publish.urlHost } : {}),
    tls: loadOrCreateServerCert(config.dataDir, config.tls), log: childLog('publish'),
  });
  const publishing = publishRoutes({
    publications,
    restorePoint: restorePointById,
  });

  // Run reports and the daily summary (e-mail, webhook); the summary counts what the dashboard counts.
  const notifier = new Notifier({
    store: notificationStore,
    job: (id) => { try { return jobs.job(id); } catch { return undefined; } },
    figures: async () => {
      const vms = await inventory.vms();
      return dashboard(await repo(), jobs, [], vms, new Set(vms.map((v) => v.id)), { protectionWindowHours: inventoryWindow, growth: growthHistory });
    },
    problemRuns: (since) => jobs.runs({ limit: 10_000 }).filter((r) => r.startedAt >= since.toISOString() && (r.status === 'failed' || r.status === 'warning' || r.status === 'cancelled')),
    serviceUrl: () => process.env.STILLPOINT_PUBLIC_URL ?? serviceUrl,
  });
  notifier.start();
  // The conditions behind Stillpoint's vCenter alarms that are not one backup's outcome (RPO, space, verify).
  const alarmMonitor = new AlarmMonitor({
    sites: () => sites.ids(), vs: (site) => sites.vs(site), parseVm: (id) => sites.parse(id, 'VM'),
    jobs: () => jobs.jobs(), jobVms, lastProtected: () => inventory.lastProtected(), windowHours: inventoryWindow,
    vmName: async (id) => (await inventory.vms()).find((v) => v.id === id)?.name ?? id,
    space: async () => (await repo()).space(),
  });
  alarmMonitor.start();

  const vcOrigins = [...new Set(sites.list().flatMap((s) => (s.config.url ? [new URL(s.config.url).origin] : [])))];
  const failoverApi = failoverRoutes({
    plans: failoverPlans, credential: (id) => jobs.credential(id),
    start: async (kind, vmIds, params, user) => runToDto(await runner.start({ kind, vmIds, initiatedBy: user.username, concurrency: 1, params })),
    replica: async (replicaId) => { const { vs, vm } = await vmAt(replicaId); return replicaByRef(vs, vm); },
  });
  const app = createApp({
    version, rootDir, devHost: config.devHost, frameAncestors: vcOrigins,
    auth, events, health, inventory, extraRoutes: [...operations, ...transporterRoutes({
      hub: transporterHub,
      locateVm: async (vmId) => { const { vs, moref, site } = await vmAt(vmId); return { site, moref, name: (await vs.vms.get(moref)).name }; },
      vcenterAccess: async (site) => vcenterAccess(await sites.vs(site)),
    }), ...replicationRoutes({
      inventory,
      replicate: async (vmId, r, user) => runToDto(await runner.start<ReplicateParams>({ kind: 'replicate', vmIds: [vmId], initiatedBy: user.username, concurrency: 1, params: { target: r } })),
      replicaOf: async (vmId) => {
        const { vs, moref, site } = await vmAt(vmId);
        const uuid = (await vs.vms.get(moref)).instanceUuid;
        if (!uuid) return undefined;
        // The VM's own vCenter first; a replication job may keep its replica at another site.
        for (const at of [site, ...sites.ids().filter((x) => x !== site)]) {
          const found = await replicaOf(await sites.vs(at), uuid).then((r) => r && (r.sourceVmId === undefined || r.sourceVmId === vmId) ? r : undefined, () => undefined);
          if (found) return at === site ? found : { ...found, site: at };
        }
        return undefined;
      },
      replicas: listReplicas,
      formatId: (site, moref) => sites.format(site, moref),
      syncing: (vmId) => runner.active().some((r) => r.kind === 'replicate' && r.vms.some((v) => v.vmId === vmId && v.status === 'running')),
      jobs: {
        store: jobs, sites: sites.ids(), jobVms,
        runJob: async (jobId, user) => runToDto(await runner.runJob(jobId, user.username)),
        changed: (job) => { scheduler.refresh(); inventory.invalidate(); if (job) events.publish({ type: 'job', job: jobToDto(jobs.job(job.id)) }); },
        observe: (list) => replicationHealth.observe(list),
        syncing: (vmId) => runner.active().some((r) => r.kind === 'replication' && r.vms.some((v) => v.vmId === vmId && v.status === 'running')),
      },
    }), ...notificationRoutes({ store: notificationStore, notifier }), ...(config.devHost ? devhostVcenterRoutes() : []), ...failoverApi, ...filesRoutes, ...fileRestoreRuns, ...adRoutes, ...exchangeApi, ...publishing, ...catalogRoutes({ catalogs, restorePoint: findRestorePoint }),
      ...repositoryRoutes({
        repo, store: jobs, runner, jobVms, maintenance: () => scheduler.maintenance(),
        dashboard: async (visible) => dashboard(await repo(), jobs, runner.active().map(runToDto), await inventory.vms(), visible, { protectionWindowHours: inventoryWindow, growth: growthHistory }),
      })],
    ...(extras.devHostUiSession ? { devHostUiSession: extras.devHostUiSession } : {}),
  });

  const cert = loadOrCreateServerCert(config.dataDir, config.tls);
  const server: Server = createServer({
    cert: cert.cert, key: cert.key,
    headersTimeout: SERVER_LIMITS.headersTimeoutMs, requestTimeout: SERVER_LIMITS.requestTimeoutMs,
    connectionsCheckingInterval: SERVER_LIMITS.connectionsCheckingIntervalMs, handshakeTimeout: SERVER_LIMITS.handshakeTimeoutMs,
    keepAliveTimeout: SERVER_LIMITS.keepAliveTimeoutMs,
  }, app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE'
      ? new Error(`Port ${config.listen.port} on ${config.listen.host} is in use: stop the other process or set STILLPOINT_PORT.`) : e));
    server.listen(config.listen.port, config.listen.host, resolve);
  });
  const addr = server.address() as AddressInfo;
  const url = `https://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
  serviceUrl = url;
  log.info({ url, dataDir: config.dataDir }, 'service started');
  void sites.status();

  return {
    url, cert: cert.cert, thumbprint: cert.thumbprint, config, recovery,
    async close() {
      scheduler.stop();
      clearInterval(recoveryTimer);
      await notifier.stop();
      await alarmMonitor.stop();
      clearInterval(replicaHealthTimer);
      for (const h of heartbeats) h.stop();
      cleanup.stop();
      await runner.drain();
      await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
      await publications.close();
      await adDirectories.close();
      await exchangeMailboxes.close();
      await files.close();
      await repoOpening.then((r) => r.close(), () => undefined);
      events.complete();
      await auth.close();
      await sites.close();
    },
  };
}

/** The addresses the configured vCenters resolve to: their reverse proxies forward plugin requests. */
async function vCenterAddresses(urls: (string | undefined)[]): Promise<string[]> {
  const hosts = [...new Set(urls.flatMap((u) => (u ? [new URL(u).hostname.replace(/^\[|\]$/g, '')] : [])))];
  const found = await Promise.all(hosts.map((h) => (isIP(h) ? [h] : lookup(h, { all: true }).then((a) => a.map((x) => x.address), () => []))));
  return found.flat();
}
