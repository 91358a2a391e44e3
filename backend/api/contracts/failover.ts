// Failover, failback and failover plans of replicas at the DR site (backend/replication/failover).
// `:id` is the replica VM's id (as GET /api/replicas lists it as replicaVmId). Every action runs as a
// run (202 JobRun: follow it with GET /api/runs/:id) with a vCenter task on the replica, and checks
// the user's own vCenter privileges first (model/privileges.ts: failover, testFailover, …).
//   POST   /api/replicas/:id/failover  FailoverRequest       -> JobRun (202)  mode normal | test | planned
//   POST   /api/replicas/:id/undo                            -> JobRun (202)  undo failover
//   POST   /api/replicas/:id/permanent PermanentFailoverRequest -> JobRun (202)
//   POST   /api/replicas/:id/failback  FailbackRequest       -> JobRun (202)  action failback | commit | undo
//   GET    /api/failover-plans                               -> FailoverPlan[]
//   POST   /api/failover-plans         FailoverPlanInput     -> FailoverPlan (201)
//   GET    /api/failover-plans/:id                           -> FailoverPlan
//   PUT    /api/failover-plans/:id     FailoverPlanInput     -> FailoverPlan
//   DELETE /api/failover-plans/:id                           -> 204
//   POST   /api/failover-plans/:id/run FailoverPlanRunRequest -> JobRun (202)  one run, a result per VM

export interface NetworkMappingDto { source: string; target: string }

/** Re-IP: a guest address in sourceSubnet gets the same host bits in targetSubnet, that gateway and DNS. */
export interface ReIpRuleDto { sourceSubnet: string; targetSubnet: string; gateway?: string; dns?: string[] }

export interface FailoverRequest {
  /** 'normal' (default): start the replica; 'test': in the isolated network on a protective snapshot, then clean up; 'planned': sync, shut the source down, sync, fail over. */
  mode?: 'normal' | 'test' | 'planned';
  /** Recovery point id or name (ReplicaState.points); default the latest. Not for 'planned' (it makes its own). */
  point?: string;
  /** Source network → DR network; unmapped NICs stay disconnected. Default: the networks replication gave the replica. */
  networkMap?: NetworkMappingDto[];
  reIp?: ReIpRuleDto[];
  /** A stored guest credential: needed for re-IP. */
  guestCredentialId?: string;
  /** Test failover: the isolated portgroup (default Stillpoint-Test-Isolated). */
  isolatedNetwork?: string;
  /** Seconds to wait for VMware Tools (normal, test) or the source's shutdown (planned). */
  timeoutSeconds?: number;
}

export interface PermanentFailoverRequest { confirm: true }

/** Failback to a new VM at production: the replica's current disks copied whole, the replica's jobs re-pointed to it. */
export interface FailbackNewVmDto {
  /** The new VM's name (no VM may have it: refused with 409 before anything starts). */
  name: string;
  /** Production host and datastore (name or id). */
  host: string;
  datastore: string;
  /** VM folder (name or id); default the datacenter's VM folder. */
  folder?: string;
  /** The replica's (DR) network → production network; unmapped NICs keep their network if the host has it. */
  networkMap?: NetworkMappingDto[];
}

export interface FailbackRequest {
  /** 'failback' (default): send the replica's changes back, start the original VM; then 'commit' or 'undo'. */
  action?: 'failback' | 'commit' | 'undo';
  /** With action failback: commit at once. */
  commit?: boolean;
  timeoutSeconds?: number;
  /**
   * To the original VM: 'hot-add' through a paired transporter at production (only the changed pieces are sent),
   * 'full-upload' (the whole disks), 'auto' (default: hot-add when a transporter serves the VM's datastore).
   */
  transport?: 'auto' | 'hot-add' | 'full-upload';
  /** Fail back to a new VM instead of the original (a full copy). */
  toNew?: FailbackNewVmDto;
}

export interface FailoverPlanGroupDto {
  replicaIds: string[];
  delaySeconds?: number;
  script?: { programPath: string; arguments?: string; timeoutSeconds?: number };
}

export interface FailoverPlanInput {
  name: string;
  description?: string;
  groups: FailoverPlanGroupDto[];
  guestCredentialId?: string;
  networkMap?: NetworkMappingDto[];
  reIp?: ReIpRuleDto[];
}

export interface FailoverPlan extends FailoverPlanInput { id: string; owner: string; createdAt: string; updatedAt: string }

export interface FailoverPlanRunRequest { mode?: 'normal' | 'test' }
