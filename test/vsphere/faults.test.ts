// vSphere faults → typed errors with a hint, as SOAP faults and as failed tasks (lab fault injection).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  FileFaultError, InvalidArgumentError, InvalidStateError, mor, NoPermissionError, NotAuthenticatedError, VSphereError,
  VSphereFault, faultToError, localizedFaultToError, type MoRef, type VSphere,
} from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

describe('vsphere: faults', () => {
  let lab: Lab;
  let vs: VSphere;
  let vm: MoRef;
  let labVms: Record<string, LabVm>;
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession());
    vm = mor('VirtualMachine', labVms['linux-db01']!.moref);
  });
  afterEach(async () => { await lab.control.clearFaults(); });
  after(() => stopLabSession(lab, vs));

  it('maps fault names to classes, each with a hint', () => {
    const cases: [string, Function][] = [
      ['InvalidLogin', VSphereError], ['NoPermission', NoPermissionError], ['FileNotFound', FileFaultError],
      ['InvalidPowerState', InvalidStateError], ['InvalidArgument', InvalidArgumentError], ['SomethingNew', VSphereFault],
    ];
    for (const [name, cls] of cases) {
      const e = faultToError(name, 'msg', {});
      assert.ok(e instanceof cls, name);
      assert.equal(e.fault, name);
      assert.ok(e.hint.length > 10, name);
    }
    const np = faultToError('NoPermission', '', { privilegeId: 'VirtualMachine.State.CreateSnapshot' }) as NoPermissionError;
    assert.equal(np.privilegeId, 'VirtualMachine.State.CreateSnapshot');
    assert.match(np.hint, /VirtualMachine\.State\.CreateSnapshot/);
    const lf = localizedFaultToError({ fault: { _type: 'FileFault', file: '[ds] a.vmdk' }, localizedMessage: 'Error caused by file [ds] a.vmdk' });
    assert.ok(lf instanceof FileFaultError && lf.file === '[ds] a.vmdk');
  });

  it('a SOAP-level NoPermission fault', async () => {
    await lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'NoPermission', as: 'soap' });
    await assert.rejects(vs.snapshots.create(vm, { name: 'x' }), (err: unknown) => err instanceof NoPermissionError && /privilege/.test(err.hint));
  });

  it('a failed task: FileFault names the file, InvalidState, InvalidArgument', async () => {
    await lab.control.injectFault({ method: 'CreateSnapshot_Task', fault: 'FileFault' });
    await assert.rejects(vs.snapshots.create(vm, { name: 'x' }), (err: unknown) =>
      err instanceof FileFaultError && /linux-db01/.test(err.file ?? '') && /datastore/.test(err.hint));
    await lab.control.injectFault({ method: 'ReconfigVM_Task', fault: 'InvalidState' });
    await assert.rejects(vs.vms.reconfigure(vm, { annotation: 'x' }), InvalidStateError);
    await lab.control.injectFault({ method: 'ReconfigVM_Task', fault: 'InvalidArgument', message: 'spec.deviceChange' });
    await assert.rejects(vs.vms.reconfigure(vm, { annotation: 'x' }), (err: unknown) =>
      err instanceof InvalidArgumentError && err.invalidProperty === 'spec.deviceChange');
  });

  it('NotAuthenticated on one call → one re-login and a retry; twice in a row surfaces', async () => {
    await lab.control.injectFault({ method: 'RetrievePropertiesEx', fault: 'NotAuthenticated', as: 'soap' });
    assert.equal((await vs.inventory.vm(vm)).name, 'linux-db01');
    await lab.control.injectFault({ method: 'RetrievePropertiesEx', fault: 'NotAuthenticated', as: 'soap', count: 2 });
    await assert.rejects(vs.inventory.vm(vm), NotAuthenticatedError);
  });
});
