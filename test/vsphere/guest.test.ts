// Guest operations against the lab vCenter (the lab records every program and upload).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { GuestOperationsError, InvalidStateError, mor, TimeoutError, type GuestCredentials, type MoRef, type VSphere } from '../../backend/vsphere/index.ts';
import type { Lab, LabVm } from '../lab/lab.ts';
import { startLabSession, stopLabSession } from './helpers.ts';

describe('vsphere: guest operations', () => {
  let lab: Lab;
  let vs: VSphere;
  let labVms: Record<string, LabVm>;
  let creds: GuestCredentials;
  const ref = (name: string): MoRef => mor('VirtualMachine', labVms[name]!.moref);
  before(async () => {
    ({ lab, vs, vms: labVms } = await startLabSession());
    creds = { username: lab.guestUsername, password: lab.guestPassword };
  });
  afterEach(async () => {
    await lab.control.resetGuest();
    await lab.control.clearFaults();
  });
  after(() => stopLabSession(lab, vs));

  it('runs a program and returns its exit code', async () => {
    await lab.control.setGuestExitCode({ vm: 'linux-db01', match: 'pre-freeze', exitCode: 0, delayMs: 300 });
    await lab.control.setGuestExitCode({ vm: 'linux-db01', match: 'failing', exitCode: 3, delayMs: 50 });
    const ok = await vs.guest.run(ref('linux-db01'), creds, {
      programPath: '/opt/stillpoint/pre-freeze.sh', arguments: '--db main', workingDirectory: '/tmp', envVariables: ['SP_JOB=1'],
    }, { pollMs: 50 });
    assert.equal(ok.exitCode, 0);
    assert.ok(ok.pid > 0);
    assert.ok(ok.durationMs >= 250, `waited for the program (${ok.durationMs} ms)`);
    const bad = await vs.guest.run(ref('linux-db01'), creds, { programPath: '/bin/failing' }, { pollMs: 20 });
    assert.equal(bad.exitCode, 3);
    const calls = await lab.control.guestCalls();
    const pre = calls.find((c) => c.kind === 'program' && c.programPath === '/opt/stillpoint/pre-freeze.sh')!;
    assert.equal(pre.arguments, '--db main');
    assert.equal(pre.workingDirectory, '/tmp');
    assert.deepEqual(pre.envVariables, ['SP_JOB=1']);
    assert.equal(pre.user, lab.guestUsername);
  });

  it('a program that outlives its timeout is killed and reported', async () => {
    await lab.control.setGuestExitCode({ vm: 'linux-db01', match: 'hang', exitCode: 0, delayMs: 60_000 });
    await assert.rejects(vs.guest.run(ref('linux-db01'), creds, { programPath: '/bin/hang' }, { timeoutMs: 400, pollMs: 50 }),
      (err: unknown) => err instanceof TimeoutError && /did not finish within/.test(err.message));
  });

  it('wrong guest password → InvalidGuestLogin with a hint', async () => {
    await assert.rejects(vs.guest.run(ref('linux-db01'), { username: creds.username, password: 'nope' }, { programPath: '/bin/true' }),
      (err: unknown) => err instanceof GuestOperationsError && err.fault === 'InvalidGuestLogin' && /credentials/.test(err.hint));
  });

  it('no Tools → GuestOperationsUnavailable; powered off → InvalidPowerState', async () => {
    await assert.rejects(vs.guest.run(ref('app-notools01'), creds, { programPath: '/bin/true' }),
      (err: unknown) => err instanceof GuestOperationsError && err.fault === 'GuestOperationsUnavailable' && /VMware Tools/.test(err.hint));
    await assert.rejects(vs.guest.run(ref('web-off01'), creds, { programPath: '/bin/true' }), InvalidStateError);
  });

  it('uploads a script into the guest', async () => {
    const script = '#!/bin/sh\necho freezing\n';
    await vs.guest.upload(ref('linux-db01'), creds, '/opt/stillpoint/freeze.sh', Buffer.from(script), { posixPermissions: 0o755 });
    const up = (await lab.control.guestCalls()).find((c) => c.kind === 'upload')!;
    assert.equal(up.guestFilePath, '/opt/stillpoint/freeze.sh');
    assert.equal(up.size, script.length);
    assert.equal(up.content, script);
  });
});
