/**
 * Security descriptors of a backed-up ntds.dit: since Windows Server 2003 an object's
 * nTSecurityDescriptor column holds an 8-byte id into sd_table (sd_id → sd_value, shared by every
 * object with the same descriptor). The AD layer shows that id as `sd_table:<id>`; this resolves it.
 * Read once per database (sd_table is small: one row per distinct descriptor).
 */
import type { EseDatabase } from '../ese/database.ts'
import type { AdObject } from './directory.ts'

export interface BackupSecurityDescriptors {
  /** The object's descriptor as stored (self-relative binary), or why there is none. */
  of(o: AdObject): { sd: Buffer } | { missing: string }
  count: number
}

const asId = (v: unknown) => (typeof v === 'bigint' ? v : typeof v === 'number' ? BigInt(v) : undefined)

/** sd_id → descriptor, for every row of sd_table (none when the table is missing). */
export async function readSdTable(db: EseDatabase): Promise<Map<bigint, Buffer>> {
  const byId = new Map<bigint, Buffer>()
  if (!db.tables().some((t) => t.name === 'sd_table')) return byId
  for await (const row of db.rows('sd_table', { columns: ['sd_id', 'sd_value'] })) {
    const id = asId(row.values.sd_id), value = row.values.sd_value
    if (id !== undefined && Buffer.isBuffer(value)) byId.set(id, value)
  }
  return byId
}

export async function readSecurityDescriptors(db: EseDatabase): Promise<BackupSecurityDescriptors> {
  return securityDescriptorsOf(await readSdTable(db))
}

export function securityDescriptorsOf(byId: Map<bigint, Buffer>): BackupSecurityDescriptors {
  return {
    count: byId.size,
    of(o) {
      const ref = o.attributes.nTSecurityDescriptor
      const m = typeof ref === 'string' ? /^sd_table:(-?\d+)$/.exec(ref) : null
      if (!m) return { missing: `${o.dn} has no security descriptor in the backup` }
      const sd = byId.get(BigInt(m[1]!))
      return sd ? { sd } : { missing: `${o.dn}: security descriptor ${m[1]} is not in the backup's sd_table` }
    },
  }
}
