// Custom attributes (CustomFieldsManager): e.g. "Last backup" on every protected VM.
import { ApiWrapper } from './property-collector.ts';
import type { MoRef } from './types.ts';

export type CustomFieldDef = { key: number; name: string; type: string; managedObjectType?: string };

export class CustomFields extends ApiWrapper {
  get manager(): MoRef {
    const m = this.client.serviceContent.customFieldsManager;
    if (!m) throw new Error('this endpoint has no CustomFieldsManager');
    return m;
  }

  async list(): Promise<CustomFieldDef[]> {
    const { field } = await this.pc.retrieveOne<{ field?: CustomFieldDef[] }>(this.manager, ['field']);
    return field ?? [];
  }

  async add(name: string, moType?: string): Promise<CustomFieldDef> {
    return this.client.call<CustomFieldDef>('AddCustomFieldDef', { _this: this.manager, name, moType });
  }

  /** The definition of `name` for `moType` (default VirtualMachine), created if missing. */
  async ensure(name: string, moType = 'VirtualMachine'): Promise<CustomFieldDef> {
    const existing = (await this.list()).find((f) => f.name === name && (!f.managedObjectType || f.managedObjectType === moType));
    return existing ?? this.add(name, moType);
  }

  async set(entity: MoRef, key: number, value: string): Promise<void> {
    await this.client.call('SetField', { _this: this.manager, entity, key, value });
  }

  /** Sets a field by name (creating the definition if needed). */
  async setByName(entity: MoRef, name: string, value: string): Promise<void> {
    const def = await this.ensure(name, entity.type);
    await this.set(entity, def.key, value);
  }

  /** The entity's custom values by field name. */
  async values(entity: MoRef): Promise<Record<string, string>> {
    const [defs, p] = await Promise.all([this.list(), this.pc.retrieveOne<{ customValue?: { key: number; value?: string }[] }>(entity, ['customValue'])]);
    const names = new Map(defs.map((d) => [d.key, d.name]));
    const out: Record<string, string> = {};
    for (const v of p.customValue ?? []) out[names.get(Number(v.key)) ?? String(v.key)] = v.value ?? '';
    return out;
  }
}
