// The lab's restricted user (test/lab/vcsim/permissions.go): vCenter's permission rules on the wire.
// operator@vsphere.local holds a role on win-app01 and linux-db01 only; every other VM (and its
// snapshots) is left out of what its sessions retrieve, and calls naming one fail with NoPermission.
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, describe, test } from 'node:test';
import { startLab, type Lab, type LabVm } from '../lab/lab.ts';
import { all, esc, first, ref, Soap, type Moref } from './soap.ts';

const vmRef = (value: string): Moref => ({ type: 'VirtualMachine', value });
const PC: Moref = { type: 'PropertyCollector', value: 'propertyCollector' };
const SM: Moref = { type: 'SessionManager', value: 'SessionManager' };

function request(lab: Lab, method: string, p: string, headers: Record<string, string> = {}, body?: string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = https.request(new URL(p, lab.url), { method, ca: lab.certPem, agent: false, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A container view of every VM, and the traversal into it. */
async function vmView(soap: Soap): Promise<{ view: string; objectSet: string }> {
  const view = first(await soap.ok('CreateContainerView',
    `${ref('_this', { type: 'ViewManager', value: 'ViewManager' })}${ref('container', { type: 'Folder', value: 'group-d1' })}<type>VirtualMachine</type><recursive>true</recursive>`), 'returnval')!;
  const objectSet = `<objectSet>${ref('obj', { type: 'ContainerView', value: view })}<skip>true</skip><selectSet xsi:type="TraversalSpec"><name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet>`;
  return { view, objectSet };
}

/** Morefs of the VirtualMachine objects in a retrieval result or update set, sorted. */
const objs = (xml: string) => [...xml.matchAll(/<obj type="VirtualMachine">([^<]+)<\/obj>/g)].map((m) => m[1]!).sort();

describe('lab vCenter: restricted user', () => {
  let lab: Lab;
  let admin: Soap;
  let op: Soap;
  let vms: Record<string, LabVm>;
  let allowed: string[];
  let hidden: string[];
  before(async () => {
    lab = await startLab({ images: false });
    admin = new Soap(lab);
    await admin.login();
    op = new Soap(lab);
    await op.login(lab.restrictedUsername, lab.restrictedPassword);
    vms = await lab.control.vms();
    allowed = ['win-app01', 'linux-db01'].map((n) => vms[n]!.moref).sort();
    hidden = ['web-off01', 'app-notools01'].map((n) => vms[n]!.moref).sort();
  });
  after(async () => {
    await lab?.stop();
  });

  test('the ready line names the user and its VMs; Login checks the password', async () => {
    assert.equal(lab.restrictedUsername, 'operator@vsphere.local');
    assert.equal(lab.restrictedPassword, 'Operator-Pass-1!');
    assert.deepEqual([...lab.restrictedVms].sort(), ['linux-db01', 'win-app01']);
    assert.equal(lab.readyLine.restrictedUsername, lab.restrictedUsername);
    const bad = await new Soap(lab).call('Login', `${ref('_this', SM)}<userName>${esc(lab.restrictedUsername)}</userName><password>wrong</password>`);
    assert.equal(bad.fault, 'InvalidLogin');
    const cur = await op.property({ type: 'SessionManager', value: 'SessionManager' }, 'currentSession');
    assert.equal(first(cur, 'userName'), lab.restrictedUsername);
  });

  test('property retrieval through a container view leaves out hidden VMs (all methods, paged too)', async () => {
    for (const [who, soap, expect] of [['admin', admin, [...allowed, ...hidden].sort()], ['operator', op, allowed]] as const) {
      const { view, objectSet } = await vmView(soap);
      const spec = `<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet>${objectSet}</specSet>`;
      assert.deepEqual(objs(await soap.ok('RetrieveProperties', ref('_this', PC) + spec)), expect, `${who}: RetrieveProperties`);
      assert.deepEqual(objs(await soap.ok('RetrievePropertiesEx', ref('_this', PC) + spec + '<options/>')), expect, `${who}: RetrievePropertiesEx`);
      // Paged: one object per page.
      let page = await soap.ok('RetrievePropertiesEx', ref('_this', PC) + spec + '<options><maxObjects>1</maxObjects></options>');
      const seen = objs(page);
      for (let token = first(page, 'token'); token; token = first(page, 'token')) {
        page = await soap.ok('ContinueRetrievePropertiesEx', `${ref('_this', PC)}<token>${token}</token>`);
        seen.push(...objs(page));
      }
      assert.deepEqual(seen.sort(), expect, `${who}: paged`);
      // The view itself holds only what the user can see.
      const viewProp = await soap.property({ type: 'ContainerView', value: view }, 'view');
      assert.deepEqual(all(viewProp, 'ManagedObjectReference').sort(), expect, `${who}: ContainerView.view`);
      await soap.ok('DestroyView', ref('_this', { type: 'ContainerView', value: view }));
    }
  });

  test('reference lists of other objects (Folder.childEntity, HostSystem.vm) omit hidden VMs', async () => {
    const parents = await admin.list('VirtualMachine', 'parent');
    const folder = parents.get(allowed[0]!)?.trim() ?? '';
    assert.ok(folder, 'the VM folder');
    const adminChildren = all(await admin.property({ type: 'Folder', value: folder }, 'childEntity'), 'ManagedObjectReference');
    const opChildren = all(await op.property({ type: 'Folder', value: folder }, 'childEntity'), 'ManagedObjectReference');
    for (const v of hidden) {
      assert.ok(adminChildren.includes(v), `admin sees ${v} in the folder`);
      assert.ok(!opChildren.includes(v), `operator does not see ${v} in the folder`);
    }
    for (const v of allowed) assert.ok(opChildren.includes(v));
    const opHostVms = [...(await op.list('HostSystem', 'vm')).values()].flatMap((x) => all(x, 'ManagedObjectReference'));
    assert.deepEqual(opHostVms.filter((v) => hidden.includes(v)), []);
    assert.ok(opHostVms.some((v) => allowed.includes(v)));
  });

  test('WaitForUpdatesEx reports only visible VMs', async () => {
    const { view, objectSet } = await vmView(op);
    const filter = first(await op.ok('CreateFilter',
      `${ref('_this', PC)}<spec><propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet>${objectSet}</spec><partialUpdates>false</partialUpdates>`), 'returnval')!;
    const upd = await op.ok('WaitForUpdatesEx', `${ref('_this', PC)}<version></version><options><maxWaitSeconds>0</maxWaitSeconds></options>`);
    assert.deepEqual(objs(upd), allowed);
    await op.ok('DestroyPropertyFilter', ref('_this', { type: 'PropertyFilter', value: filter }));
    await op.ok('DestroyView', ref('_this', { type: 'ContainerView', value: view }));
  });

  test('calls on or naming a hidden VM fail with NoPermission and change nothing', async () => {
    const web = vmRef(vms['web-off01']!.moref);
    const r = await op.call('CreateSnapshot_Task', `${ref('_this', web)}<name>x</name><memory>false</memory><quiesce>false</quiesce>`);
    assert.equal(r.fault, 'NoPermission', r.body.slice(0, 500));
    assert.equal(first(r.body, 'privilegeId'), 'VirtualMachine.State.CreateSnapshot');
    assert.match(r.body, new RegExp(`<object type="VirtualMachine">${web.value}</object>`));
    assert.match(r.body, /Permission to perform this operation was denied/);
    assert.equal(await admin.property(web, 'snapshot'), '', 'no snapshot was taken');

    const read = await op.call('RetrieveProperties', `${ref('_this', PC)}<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet></propSet><objectSet>${ref('obj', web)}</objectSet></specSet>`);
    assert.equal(read.fault, 'NoPermission');
    assert.equal(first(read.body, 'privilegeId'), 'System.Read');

    const guest = await op.call('StartProgramInGuest', `${ref('_this', { type: 'GuestProcessManager', value: 'guestOperationsProcessManager' })}${ref('vm', web)}<auth xsi:type="NamePasswordAuthentication"><interactiveSession>false</interactiveSession><username>${lab.guestUsername}</username><password>${esc(lab.guestPassword)}</password></auth><spec><programPath>/bin/true</programPath><arguments></arguments></spec>`);
    assert.equal(guest.fault, 'NoPermission');
    assert.equal(first(guest.body, 'privilegeId'), 'VirtualMachine.GuestOperations.Execute');

    // A snapshot the administrator took is hidden with its VM.
    const snap = (await admin.task('CreateSnapshot_Task', `${ref('_this', web)}<name>admin</name><memory>false</memory><quiesce>false</quiesce>`)).result!;
    const rm = await op.call('RemoveSnapshot_Task', `${ref('_this', { type: 'VirtualMachineSnapshot', value: snap })}<removeChildren>false</removeChildren>`);
    assert.equal(rm.fault, 'NoPermission');
    assert.equal(first(rm.body, 'privilegeId'), 'VirtualMachine.State.RemoveSnapshot');
    assert.match(await admin.property(web, 'snapshot'), new RegExp(snap), 'the snapshot is still there');
    assert.equal((await admin.task('RemoveSnapshot_Task', `${ref('_this', { type: 'VirtualMachineSnapshot', value: snap })}<removeChildren>false</removeChildren>`)).state, 'success');
  });

  test('an allowed VM works normally for the restricted user', async () => {
    const win = vmRef(vms['win-app01']!.moref);
    assert.match(await op.property(win, 'name'), /win-app01/);
    const t = await op.task('CreateSnapshot_Task', `${ref('_this', win)}<name>op</name><memory>false</memory><quiesce>false</quiesce>`);
    assert.equal(t.state, 'success', t.fault);
    assert.match(await op.property(win, 'snapshot'), new RegExp(t.result!));
    assert.equal((await op.task('RemoveAllSnapshots_Task', ref('_this', win))).state, 'success');
  });

  test('SearchIndex.FindByUuid finds no hidden VM', async () => {
    const si: Moref = { type: 'SearchIndex', value: 'SearchIndex' };
    for (const [name, visible] of [['web-off01', false], ['linux-db01', true]] as const) {
      const uuid = (await admin.property(vmRef(vms[name]!.moref), 'config.uuid')).trim();
      const q = `${ref('_this', si)}<uuid>${uuid}</uuid><vmSearch>true</vmSearch>`;
      assert.equal(first(await admin.ok('FindByUuid', q), 'returnval'), vms[name]!.moref);
      assert.equal(first(await op.ok('FindByUuid', q), 'returnval'), visible ? vms[name]!.moref : undefined, name);
    }
  });

  test('datastore HTTP is forbidden for the restricted user (no datastore privileges)', async () => {
    const v = vms['win-app01']!;
    const url = `/folder/${v.dir}/${v.dir}.vmx?dcPath=Lab-DC&dsName=${v.datastore}`;
    assert.equal((await request(lab, 'GET', url, { cookie: admin.sessionCookie })).status, 200);
    assert.equal((await request(lab, 'GET', url, { cookie: op.sessionCookie })).status, 403);
  });

  test('a session cloned from the restricted user\'s vSphere Client token is restricted too', async () => {
    await assert.rejects(lab.control.uiSessionToken(lab.restrictedUsername, 'wrong'), /HTTP 401/);
    const token = await lab.control.uiSessionToken(lab.restrictedUsername, lab.restrictedPassword);
    const t = await request(lab, 'POST', '/api/ui/vcenter/session/clone-ticket',
      { 'vmware-api-session-id': token, 'content-type': 'application/json' }, JSON.stringify({ vc_guid: lab.vcGuid }));
    assert.equal(t.status, 200);
    const ticket = (JSON.parse(t.body) as { session_clone_ticket: string }).session_clone_ticket;
    const clone = new Soap(lab);
    const s = await clone.ok('CloneSession', `${ref('_this', SM)}<cloneTicket>${esc(ticket)}</cloneTicket>`);
    assert.equal(first(s, 'userName'), lab.restrictedUsername);
    assert.deepEqual([...(await clone.list('VirtualMachine', 'name')).keys()].sort(), allowed);
    const r = await clone.call('CreateSnapshot_Task', `${ref('_this', vmRef(hidden[0]!))}<name>x</name><memory>false</memory><quiesce>false</quiesce>`);
    assert.equal(r.fault, 'NoPermission');
  });
});
