// What a transporter has attached to its helper VM, kept in its data folder until the disks are
// detached: a transporter killed mid-write leaves disks attached, and at its next start it detaches
// those of the journal too, not only replica disks (an original VM's disks during a failback carry no
// replica mark).
import { join } from 'node:path';
import { readJson, writeFileDurable } from '../../common/durable.ts';

export class AttachJournal {
  readonly #file: string;
  #sessions: Record<string, string[]>;

  constructor(dataDir: string) {
    this.#file = join(dataDir, 'attached.json');
    this.#sessions = readJson<Record<string, string[]>>(this.#file) ?? {};
  }

  /** Recorded before attaching: the files a session is about to attach. */
  add(session: string, files: string[]): void {
    this.#sessions[session] = files;
    this.#save();
  }

  /** Recorded after the session's disks were detached. */
  remove(session: string): void {
    if (!(session in this.#sessions)) return;
    delete this.#sessions[session];
    this.#save();
  }

  /** Every file a session attached and did not detach (a killed predecessor's). */
  files(): string[] { return Object.values(this.#sessions).flat(); }

  clear(): void {
    this.#sessions = {};
    this.#save();
  }

  #save(): void { writeFileDurable(this.#file, JSON.stringify(this.#sessions)); }
}
