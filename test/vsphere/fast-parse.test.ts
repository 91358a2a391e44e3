// The fast bulk-response parser must give exactly what node-soap (+ fromSoap) gives.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ContainerView, mor, VM_PROPERTIES, type VSphere, type MoRef } from '../../backend/vsphere/index.ts';
import { parseResponse } from '../../backend/vsphere/fast-parse.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

describe('vsphere: fast PropertyCollector parsing', () => {
  let lab: Lab;
  let vs: VSphere;
  let labVms: Record<string, LabVm>;
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession());
  });
  after(() => stopLabSession(lab, vs));

  async function both<T>(fn: () => Promise<T>): Promise<[T, T]> {
    vs.client.fastParse = true;
    const fast = await fn();
    vs.client.fastParse = false;
    try {
      return [fast, await fn()];
    } finally {
      vs.client.fastParse = true;
    }
  }

  it('inventory, hosts, datastores, snapshot trees and configs: identical to node-soap', async () => {
    const vm = mor('VirtualMachine', labVms['win-app01']!.moref);
    await vs.cbt.setEnabled(vm, true);
    const s1 = await vs.snapshots.create(vm, { name: 'one & <two>', description: 'quotes " and \' inside', quiesce: true });
    const s2 = await vs.snapshots.create(vm, { name: 'child' });
    try {
      const view = await ContainerView.create(vs.client, ['ManagedEntity']);
      try {
        const [a, b] = await both(() => vs.pc.retrieveRaw([
          view.filterSpec('VirtualMachine', [...VM_PROPERTIES, 'config', 'runtime', 'guest', 'summary', 'layoutEx']),
          view.filterSpec('HostSystem', ['name', 'summary', 'runtime', 'datastore', 'vm']),
          view.filterSpec('Datastore', ['summary', 'info', 'host', 'vm']),
          view.filterSpec('ClusterComputeResource', ['name', 'host', 'summary']),
        ]));
        assert.ok(a.length > 10);
        assert.deepStrictEqual(a, b);
      } finally {
        await view.destroy();
      }
      const [sa, sb] = await both(() => vs.pc.retrieve([s1.node.ref, s2.node.ref], ['config', 'name', 'childSnapshot', 'vm']));
      assert.deepStrictEqual(sa, sb);
      const [ta, tb] = await both(() => vs.snapshots.tree(vm));
      assert.equal(ta.roots[0]!.name, 'one & <two>');
      assert.equal(ta.roots[0]!.description, 'quotes " and \' inside');
      assert.deepStrictEqual(ta, tb);
    } finally {
      await vs.snapshots.remove(s1.node.ref, { removeChildren: true });
    }
  });

  it('WaitForUpdatesEx (task info updates) parses the same', async () => {
    const vm: MoRef = mor('VirtualMachine', labVms['linux-db01']!.moref);
    const [a, b] = await both(async () => {
      const s = await vs.snapshots.create(vm, { name: 'w' });
      await vs.snapshots.remove(s.node.ref);
      const pc = await vs.pc.createPrivate();
      try {
        await pc.createFilter({ propSet: [{ type: 'VirtualMachine', all: false, pathSet: ['name', 'snapshot', 'config.hardware.device', 'runtime.powerState'] }], objectSet: [{ obj: vm, skip: false }] });
        const u = await pc.waitForUpdates('', 5);
        return u?.filterSet?.[0]?.objectSet?.map((o) => ({ kind: o.kind, obj: o.obj, changeSet: o.changeSet }));
      } finally {
        await pc.destroy();
      }
    });
    assert.ok(a && a.length === 1 && a[0]!.changeSet!.length >= 3);
    assert.deepStrictEqual(a, b);
  });

  it('handles entities, CDATA, comments, nil, primitives in anyType and empty arrays', () => {
    const lookup = (t: string) => vs.client.typeDescription(t);
    const xml = `<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><token>t&amp;1</token>
<objects><obj type="VirtualMachine">vm-1</obj>
<propSet><name>a</name><val xsi:type="xsd:int">42</val></propSet>
<propSet><name>b</name><val xsi:type="xsd:boolean">true</val></propSet>
<propSet><name>c</name><val xsi:type="ArrayOfString"><string>x &lt;y&gt; &#65;&#x42;</string><string><![CDATA[<raw>]]></string></val></propSet>
<propSet><name>d</name><val xsi:type="ArrayOfManagedObjectReference"></val></propSet>
<propSet><name>e</name><!-- comment --><val xsi:type="ManagedObjectReference" type="Datastore">ds-1</val></propSet>
<propSet><name>f</name><val xsi:type="xsd:dateTime">2026-11-25T07:00:00Z</val></propSet>
<propSet><name>g</name><val xsi:type="xsd:long">9007199254740991</val></propSet>
</objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>`;
    const r = parseResponse(xml, lookup('RetrievePropertiesExResponse'), lookup) as { token: string; objects: { obj: MoRef; propSet: { name: string; val: unknown }[] }[] };
    assert.equal(r.token, 't&1');
    assert.deepEqual(r.objects[0]!.obj, { type: 'VirtualMachine', value: 'vm-1' });
    const v = Object.fromEntries(r.objects[0]!.propSet.map((p) => [p.name, p.val]));
    assert.equal(v.a, 42);
    assert.equal(v.b, true);
    assert.deepEqual(v.c, ['x <y> AB', '<raw>']);
    assert.deepEqual(v.d, []);
    assert.deepEqual(v.e, { type: 'Datastore', value: 'ds-1' });
    assert.ok(v.f instanceof Date && (v.f as Date).toISOString() === '2026-11-25T07:00:00.000Z');
    assert.equal(v.g, 9007199254740991);
  });
});
