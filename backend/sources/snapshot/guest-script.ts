// Runs the user's pre-freeze / post-thaw script inside the guest through guest operations: the
// script is uploaded to the guest's temp folder and run by its interpreter, bounded by its timeout.
// The exit code is what vSphere reports for the process (ListProcessesInGuest).
import type { Script } from '../../model/app-aware.ts';
import type { GuestCredentials, MoRef, RunResult, VSphere } from '../../vsphere/index.ts';

import type { GuestFamily } from '../../model/guest.ts';

export type { GuestFamily };

export class ScriptFailed extends Error {
  readonly exitCode: number;
  constructor(label: string, exitCode: number) {
    super(`the ${label} script exited with code ${exitCode}`);
    this.exitCode = exitCode;
  }
}

export async function runGuestScript(
  vs: VSphere, vm: MoRef, creds: GuestCredentials, script: Script, family: GuestFamily, label: 'pre-freeze' | 'post-thaw',
  opts: { signal?: AbortSignal; sessionId: string },
): Promise<RunResult> {
  const windows = family === 'windows';
  const file = windows ? `C:\\Windows\\Temp\\stillpoint-${label}-${opts.sessionId}.cmd` : `/tmp/stillpoint-${label}-${opts.sessionId}.sh`;
  await vs.guest.upload(vm, creds, file, Buffer.from(windows ? script.content.replace(/\r?\n/g, '\r\n') : script.content), {
    overwrite: true, windows, ...(windows ? {} : { posixPermissions: 0o700 }),
  });
  const interpreter = script.interpreter ?? (windows ? 'C:\\Windows\\System32\\cmd.exe' : '/bin/sh');
  const args = windows && !script.interpreter ? `/c "${file}"` : `"${file}"`;
  const r = await vs.guest.run(vm, creds, { programPath: interpreter, arguments: `${args} ${label === 'pre-freeze' ? 'freeze' : 'thaw'}` }, {
    timeoutMs: script.timeoutSec * 1000, ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (r.exitCode !== 0) throw new ScriptFailed(label, r.exitCode);
  return r;
}
