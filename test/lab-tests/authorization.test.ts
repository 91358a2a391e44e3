// The lab's privileges per entity (test/lab/vcsim/authorization.go): AuthorizationManager answers
// HasPrivilegeOnEntities / FetchUserPrivilegeOnEntities for the restricted user from the permissions
// stored in vcsim, nearest permission wins, and permissions the administrator sets take effect.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startLab, type Lab } from '../lab/lab.ts';
import { esc, first, ref, Soap, type Moref } from './soap.ts';

const AM: Moref = { type: 'AuthorizationManager', value: 'AuthorizationManager' };

/** HasPrivilegeOnEntities for the caller's own session: "entity privilege" -> granted. */
async function has(soap: Soap, entities: Moref[], privs: string[]): Promise<Map<string, boolean>> {
  const key = first(await soap.property({ type: 'SessionManager', value: 'SessionManager' }, 'currentSession'), 'key')!;
  const body = await soap.ok('HasPrivilegeOnEntities',
    `${ref('_this', AM)}${entities.map((e) => ref('entity', e)).join('')}<sessionId>${esc(key)}</sessionId>${privs.map((p) => `<privId>${p}</privId>`).join('')}`);
  const out = new Map<string, boolean>();
  for (const m of body.matchAll(/<returnval><entity type="\w+">([^<]+)<\/entity>([\s\S]*?)<\/returnval>/g)) {
    for (const a of m[2]!.matchAll(/<privId>([^<]+)<\/privId><isGranted>(true|false)<\/isGranted>/g)) out.set(`${m[1]} ${a[1]}`, a[2] === 'true');
  }
  return out;
}

describe('lab vCenter: privileges per entity', () => {
  let lab: Lab;
  let admin: Soap;
  let op: Soap;
  const byName: Record<string, Moref> = {};
  before(async () => {
    lab = await startLab({ images: false });
    admin = new Soap(lab);
    await admin.login();
    op = new Soap(lab);
    await op.login(lab.restrictedUsername, lab.restrictedPassword);
    for (const type of ['Datastore', 'ClusterComputeResource', 'HostSystem', 'Datacenter', 'VirtualMachine']) {
      for (const [value, name] of await admin.list(type, 'name')) byName[name] = { type, value };
    }
    byName.vmFolder = { type: 'Folder', value: (await admin.property(byName['Lab-DC']!, 'vmFolder')).trim() };
  });
  after(async () => { await lab?.stop(); });

  test('the restricted user holds each privilege only where its role grants it', async () => {
    const e = (n: string) => byName[n]!;
    const r = await has(op, [e('win-app01'), e('linux-db01'), e('prod-ds1'), e('prod-ds2'), e('dr-ds1'), e('Production'), e('DR'), e('vmFolder')],
      ['VirtualMachine.State.CreateSnapshot', 'VirtualMachine.GuestOperations.Execute', 'Datastore.AllocateSpace', 'Resource.AssignVMToPool', 'VirtualMachine.Inventory.Create', 'System.Read']);
    const granted = (n: string, p: string) => r.get(`${e(n).value} ${p}`);
    assert.equal(granted('win-app01', 'VirtualMachine.State.CreateSnapshot'), true);
    assert.equal(granted('linux-db01', 'VirtualMachine.State.CreateSnapshot'), true);
    assert.equal(granted('win-app01', 'VirtualMachine.GuestOperations.Execute'), true);
    assert.equal(granted('linux-db01', 'VirtualMachine.GuestOperations.Execute'), false, 'no guest execution on linux-db01');
    assert.equal(granted('prod-ds1', 'Datastore.AllocateSpace'), true);
    assert.equal(granted('prod-ds2', 'Datastore.AllocateSpace'), false);
    assert.equal(granted('dr-ds1', 'Datastore.AllocateSpace'), false);
    assert.equal(granted('dr-ds1', 'System.Read'), true, 'datastores stay readable');
    assert.equal(granted('Production', 'Resource.AssignVMToPool'), true);
    assert.equal(granted('DR', 'Resource.AssignVMToPool'), false);
    assert.equal(granted('vmFolder', 'VirtualMachine.Inventory.Create'), true);
    assert.equal(granted('prod-ds1', 'VirtualMachine.Inventory.Create'), false);
    // The administrator holds everything.
    const a = await has(admin, [e('dr-ds1'), e('linux-db01')], ['Datastore.AllocateSpace', 'VirtualMachine.GuestOperations.Execute']);
    assert.ok([...a.values()].every(Boolean) && a.size === 4, JSON.stringify([...a]));
  });

  test('a permission set on an entity overrides the inherited one, and removing it restores it', async () => {
    const folder = byName.vmFolder!;
    const create = async () => (await has(op, [folder], ['VirtualMachine.Inventory.Create'])).get(`${folder.value} VirtualMachine.Inventory.Create`);
    assert.equal(await create(), true);
    // ReadOnly (-2) for the operator on the VM folder replaces its VM creator role there.
    await admin.ok('SetEntityPermissions', `${ref('_this', AM)}${ref('entity', folder)}<permission>${ref('entity', folder)}<principal>VSPHERE.LOCAL\\operator</principal><group>false</group><roleId>-2</roleId><propagate>false</propagate></permission>`);
    assert.equal(await create(), false);
    await admin.ok('RemoveEntityPermission', `${ref('_this', AM)}${ref('entity', folder)}<user>VSPHERE.LOCAL\\operator</user><isGroup>false</isGroup>`);
    // No permission on the folder now: the datacenter's ReadOnly does not propagate, the root's neither.
    assert.equal(await create(), false);
  });

  test('FetchUserPrivilegeOnEntities lists the restricted user\'s privileges', async () => {
    const body = await admin.ok('FetchUserPrivilegeOnEntities',
      `${ref('_this', AM)}${ref('entities', byName['linux-db01']!)}${ref('entities', byName['prod-ds1']!)}<userName>${esc(lab.restrictedUsername)}</userName>`);
    const per = [...body.matchAll(/<returnval><entity type="\w+">([^<]+)<\/entity>([\s\S]*?)<\/returnval>/g)]
      .map((m) => ({ entity: m[1], privs: [...m[2]!.matchAll(/<privileges>([^<]+)<\/privileges>/g)].map((x) => x[1]) }));
    const db = per.find((p) => p.entity === byName['linux-db01']!.value)!;
    assert.ok(db.privs.includes('VirtualMachine.State.CreateSnapshot'), JSON.stringify(db));
    assert.ok(!db.privs.includes('VirtualMachine.GuestOperations.Execute'));
    assert.deepEqual(per.find((p) => p.entity === byName['prod-ds1']!.value)!.privs.filter((p) => !p.startsWith('System.')), ['Datastore.AllocateSpace']);
  });
});
