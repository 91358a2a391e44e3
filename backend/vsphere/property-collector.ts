// PropertyCollector: RetrievePropertiesEx with paging (ContinueRetrievePropertiesEx), container views,
// filters and WaitForUpdatesEx. Results come back as plain records keyed by property path.
import type { VimClient } from './client.ts';
import { localizedFaultToError } from './faults.ts';
import {
  mor, type MoRef, type ObjectContent, type ObjectSpec, type PropertyFilterSpec, type RetrieveResult, type SelectionSpec,
  type TraversalSpec, type UpdateSet,
} from './types.ts';

export type ObjectProps<P = Record<string, unknown>> = { ref: MoRef; props: P; missing?: Record<string, Error> };

export type RetrieveOptions = {
  /** Objects per page (RetrieveOptions.maxObjects); vCenter may return fewer. Default 1000. */
  pageSize?: number;
  /** Per-page call timeout. */
  timeoutMs?: number;
};

export class PropertyCollector {
  readonly client: VimClient;
  readonly ref: MoRef;

  constructor(client: VimClient, ref?: MoRef) {
    this.client = client;
    this.ref = ref ?? client.serviceContent.propertyCollector;
  }

  /** A private collector (for WaitForUpdatesEx loops that must not disturb others). Destroy it when done. */
  async createPrivate(): Promise<PropertyCollector> {
    const ref = await this.client.call<MoRef>('CreatePropertyCollector', { _this: this.ref });
    return new PropertyCollector(this.client, ref);
  }

  async destroy(): Promise<void> {
    if (this.ref.value === this.client.serviceContent.propertyCollector.value) return;
    await this.client.call('DestroyPropertyCollector', { _this: this.ref });
  }

  /** RetrievePropertiesEx + ContinueRetrievePropertiesEx until the token runs out. Raw ObjectContent. */
  async retrieveRaw(specSet: PropertyFilterSpec[], opts: RetrieveOptions = {}): Promise<ObjectContent[]> {
    const out: ObjectContent[] = [];
    for await (const page of this.retrievePages(specSet, opts)) out.push(...page);
    return out;
  }

  /** Pages as they arrive (lets callers process large inventories incrementally). */
  async *retrievePages(specSet: PropertyFilterSpec[], opts: RetrieveOptions = {}): AsyncGenerator<ObjectContent[]> {
    const call = { timeoutMs: opts.timeoutMs };
    let res = await this.client.call<RetrieveResult | undefined>('RetrievePropertiesEx', {
      _this: this.ref, specSet, options: { maxObjects: opts.pageSize ?? 1000 },
    }, call);
    let token = res?.token;
    try {
      if (res?.objects) yield res.objects;
      while (token) {
        res = await this.client.call<RetrieveResult | undefined>('ContinueRetrievePropertiesEx', { _this: this.ref, token }, call);
        token = res?.token;
        if (res?.objects) yield res.objects;
      }
    } finally {
      if (token) await this.client.call('CancelRetrievePropertiesEx', { _this: this.ref, token }).catch(() => undefined);
    }
  }

  /** Properties of the given objects (all of one type or mixed), as records keyed by property path. */
  async retrieve<P = Record<string, unknown>>(refs: MoRef[], pathSet: string[], opts: RetrieveOptions = {}): Promise<ObjectProps<P>[]> {
    if (refs.length === 0) return [];
    const types = [...new Set(refs.map((r) => r.type))];
    const spec: PropertyFilterSpec = {
      propSet: types.map((type) => ({ type, all: false, pathSet })),
      objectSet: refs.map((obj) => ({ obj, skip: false })),
    };
    return (await this.retrieveRaw([spec], opts)).map(toProps<P>);
  }

  /** Properties of one object; throws the object's fault (e.g. ManagedObjectNotFound) if it is gone. */
  async retrieveOne<P = Record<string, unknown>>(ref: MoRef, pathSet: string[]): Promise<P> {
    const [o] = await this.retrieve<P>([ref], pathSet);
    if (!o) throw new Error(`no properties returned for ${ref.type}:${ref.value}`);
    return o.props;
  }

  /** All objects of `type` under a container view (created and destroyed around the retrieval). */
  async retrieveAllOfType<P = Record<string, unknown>>(type: string, pathSet: string[], opts: RetrieveOptions & { container?: MoRef } = {}): Promise<ObjectProps<P>[]> {
    const view = await ContainerView.create(this.client, [type], opts.container);
    try {
      return await view.retrieve<P>(this, type, pathSet, opts);
    } finally {
      await view.destroy().catch(() => undefined);
    }
  }

  async createFilter(spec: PropertyFilterSpec, partialUpdates = false): Promise<MoRef> {
    return this.client.call<MoRef>('CreateFilter', { _this: this.ref, spec, partialUpdates });
  }

  async destroyFilter(filter: MoRef): Promise<void> {
    await this.client.call('DestroyPropertyFilter', { _this: filter });
  }

  /** One WaitForUpdatesEx round. `maxWaitSeconds` 0 = poll; undefined = block until something changes. */
  async waitForUpdates(version: string, maxWaitSeconds?: number): Promise<UpdateSet | undefined> {
    const timeoutMs = (maxWaitSeconds ?? 600) * 1000 + 30_000;
    return this.client.call<UpdateSet | undefined>('WaitForUpdatesEx', {
      _this: this.ref, version, options: maxWaitSeconds === undefined ? {} : { maxWaitSeconds },
    }, { timeoutMs });
  }
}

/** ObjectContent → { ref, props } with missing properties as errors. */
export function toProps<P>(oc: ObjectContent): ObjectProps<P> {
  const props: Record<string, unknown> = {};
  for (const dp of oc.propSet ?? []) props[dp.name] = dp.val;
  const r: ObjectProps<P> = { ref: oc.obj, props: props as P };
  if (oc.missingSet?.length) {
    r.missing = {};
    for (const m of oc.missingSet) r.missing[m.path] = localizedFaultToError(m.fault);
  }
  return r;
}

export class ContainerView {
  readonly client: VimClient;
  readonly ref: MoRef;

  private constructor(client: VimClient, ref: MoRef) {
    this.client = client;
    this.ref = ref;
  }

  /** CreateContainerView(container = root folder by default, type, recursive). */
  static async create(client: VimClient, types: string[], container?: MoRef, recursive = true): Promise<ContainerView> {
    const viewManager = client.serviceContent.viewManager;
    if (!viewManager) throw new Error('this endpoint has no ViewManager');
    const ref = await client.call<MoRef>('CreateContainerView', {
      _this: viewManager, container: container ?? client.serviceContent.rootFolder, type: types, recursive,
    });
    return new ContainerView(client, ref);
  }

  /** The filter spec that selects every object of `type` in this view. */
  filterSpec(type: string, pathSet: string[]): PropertyFilterSpec {
    const ts: TraversalSpec = { _type: 'TraversalSpec', name: 'view', type: 'ContainerView', path: 'view', skip: false };
    return {
      propSet: [{ type, all: false, pathSet }],
      objectSet: [{ obj: this.ref, skip: true, selectSet: [ts] }],
    };
  }

  async retrieve<P>(pc: PropertyCollector, type: string, pathSet: string[], opts: RetrieveOptions = {}): Promise<ObjectProps<P>[]> {
    return (await pc.retrieveRaw([this.filterSpec(type, pathSet)], opts)).map(toProps<P>);
  }

  async destroy(): Promise<void> {
    await this.client.call('DestroyView', { _this: this.ref });
  }
}

/** Traversal from a Datacenter/Folder tree down to every entity (classic inventory walk, no views needed). */
export function inventoryTraversal(): SelectionSpec[] {
  const sel = (name: string): SelectionSpec => ({ _type: 'SelectionSpec', name });
  const ts = (name: string, type: string, path: string, selectSet: SelectionSpec[] = []): TraversalSpec =>
    ({ _type: 'TraversalSpec', name, type, path, skip: false, selectSet });
  return [
    ts('folderTraversal', 'Folder', 'childEntity', [sel('folderTraversal'), sel('dcVm'), sel('dcHost'), sel('dcDs'), sel('crHost')]),
    ts('dcVm', 'Datacenter', 'vmFolder', [sel('folderTraversal')]),
    ts('dcHost', 'Datacenter', 'hostFolder', [sel('folderTraversal')]),
    ts('dcDs', 'Datacenter', 'datastoreFolder', [sel('folderTraversal')]),
    ts('crHost', 'ComputeResource', 'host'),
  ];
}

export function objectSpec(obj: MoRef, selectSet?: SelectionSpec[]): ObjectSpec {
  return selectSet ? { obj, skip: false, selectSet } : { obj, skip: false };
}

export { mor };

/** Base of the typed wrappers (inventory, snapshots, CBT, …): the client they call and the collector they read with. */
export class ApiWrapper {
  readonly client: VimClient;
  readonly pc: PropertyCollector;

  constructor(client: VimClient, pc?: PropertyCollector) {
    this.client = client;
    this.pc = pc ?? new PropertyCollector(client);
  }
}
