// Failover plans: ordered groups of replicas, a delay before each group after the first and an
// optional script run in each VM of a group once it is failed over (through guest operations). A plan
// runs as one run of the JobRunner: its VMs in order, one at a time, each with its own result.
// Plans are kept in the data folder (failover-plans.json).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { InvalidRequest, NotFound } from '../../common/errors.ts';
import { readJson, writeFileDurable } from '../../common/durable.ts';
import type { NetworkMapping } from '../replica-vm.ts';
import { checkReIpRules, type ReIpRule } from './reip.ts';

export interface PlanScript { programPath: string; arguments?: string; timeoutSeconds?: number }

export interface FailoverPlanGroup {
  /** Site-qualified ids of the replica VMs, failed over in this order. */
  replicaIds: string[];
  /** Seconds to wait before this group starts (after the previous group); ignored for the first group. */
  delaySeconds?: number;
  /** Run in each VM of the group after its failover (needs the plan's guest credential). */
  script?: PlanScript;
}

export interface FailoverPlanInput {
  name: string;
  description?: string;
  groups: FailoverPlanGroup[];
  guestCredentialId?: string;
  networkMap?: NetworkMapping[];
  reIp?: ReIpRule[];
}

export interface FailoverPlan extends FailoverPlanInput { id: string; owner: string; createdAt: string; updatedAt: string }

/** At most this many VMs in one plan (the runner runs them one after another). */
export const MAX_PLAN_VMS = 100;

export function checkPlan(p: FailoverPlanInput): FailoverPlanInput {
  if (!p?.name?.trim()) throw new InvalidRequest('A failover plan needs a name.');
  if (!Array.isArray(p.groups) || !p.groups.length) throw new InvalidRequest('A failover plan needs at least one group of replicas.');
  const seen = new Set<string>();
  for (const [i, g] of p.groups.entries()) {
    if (!g.replicaIds?.length) throw new InvalidRequest(`Group ${i + 1} of the plan has no replicas: remove it or add replicas.`);
    for (const id of g.replicaIds) {
      if (seen.has(id)) throw new InvalidRequest(`Replica ${id} is in the plan twice: each replica can be failed over once per run.`);
      seen.add(id);
    }
    if (g.delaySeconds !== undefined && (!Number.isInteger(g.delaySeconds) || g.delaySeconds < 0 || g.delaySeconds > 86_400)) throw new InvalidRequest(`Group ${i + 1}: delaySeconds must be a whole number of seconds from 0 to 86400.`);
    if (g.script && !p.guestCredentialId) throw new InvalidRequest(`Group ${i + 1} has a script: give the plan a guest credential (guestCredentialId) to run it in the VMs.`);
  }
  if (seen.size > MAX_PLAN_VMS) throw new InvalidRequest(`A plan holds at most ${MAX_PLAN_VMS} replicas; this one has ${seen.size}: split it.`);
  checkReIpRules(p.reIp);
  return p;
}

export class FailoverPlans {
  readonly #file: string;
  constructor(dataDir: string) { this.#file = join(dataDir, 'failover-plans.json'); }

  list(): FailoverPlan[] { return readJson<FailoverPlan[]>(this.#file) ?? []; }

  get(id: string): FailoverPlan {
    const p = this.list().find((x) => x.id === id);
    if (!p) throw new NotFound('Failover plan', id, 'list the plans with GET /api/failover-plans.');
    return p;
  }

  create(input: FailoverPlanInput, owner: string): FailoverPlan {
    checkPlan(input);
    const now = new Date().toISOString();
    const plan: FailoverPlan = { ...input, id: `fp-${randomUUID()}`, owner, createdAt: now, updatedAt: now };
    this.#save([...this.list(), plan]);
    return plan;
  }

  update(id: string, input: FailoverPlanInput): FailoverPlan {
    checkPlan(input);
    const old = this.get(id);
    const plan: FailoverPlan = { ...input, id, owner: old.owner, createdAt: old.createdAt, updatedAt: new Date().toISOString() };
    this.#save(this.list().map((p) => (p.id === id ? plan : p)));
    return plan;
  }

  remove(id: string): void {
    this.get(id);
    this.#save(this.list().filter((p) => p.id !== id));
  }

  #save(all: FailoverPlan[]): void { writeFileDurable(this.#file, JSON.stringify(all, null, 2)); }
}

/** The plan's replicas in run order. */
export const planVmIds = (p: FailoverPlan): string[] => p.groups.flatMap((g) => g.replicaIds);

/** Where a replica is in the plan: its group, and whether it opens that group. */
export function placeInPlan(p: FailoverPlan, replicaId: string): { group: FailoverPlanGroup; index: number; first: boolean } {
  const index = p.groups.findIndex((g) => g.replicaIds.includes(replicaId));
  if (index < 0) throw new NotFound('Replica', replicaId, `it is not in failover plan '${p.name}' any more.`);
  const group = p.groups[index]!;
  return { group, index, first: group.replicaIds[0] === replicaId };
}

/** The wait before a group (not the first): abortable. */
export async function groupDelay(g: FailoverPlanGroup, signal?: AbortSignal): Promise<void> {
  if (g.delaySeconds) await delay(g.delaySeconds * 1000, undefined, signal ? { signal } : {});
}
