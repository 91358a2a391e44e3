import { randomUUID } from 'node:crypto'

interface HeldSecrets { password: string; newPassword?: string; expires: number }

/**
 * Passwords waiting for their run (a directory's or a mail server's account, given with the request), in
 * memory only, for a few minutes at most: a run's params are saved, its secrets never are.
 */
export class PendingSecrets {
  #held = new Map<string, HeldSecrets>()
  hold(password: string, newPassword?: string, ttlMs = 10 * 60_000): string {
    const now = Date.now()
    for (const [k, v] of this.#held) if (v.expires < now) this.#held.delete(k)
    const id = randomUUID()
    this.#held.set(id, { password, ...(newPassword !== undefined ? { newPassword } : {}), expires: now + ttlMs })
    return id
  }
  take(id: string): HeldSecrets | undefined {
    const s = this.#held.get(id)
    this.#held.delete(id)
    return s && s.expires >= Date.now() ? s : undefined
  }
}
