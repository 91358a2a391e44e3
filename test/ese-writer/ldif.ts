/** A small LDIF reader for ldbsearch output (test-only): records, folded lines, base64 values as bytes. */
export interface LdifRecord { dn: string; attrs: Map<string, Buffer[]> }

export function parseLdif(text: string): LdifRecord[] {
  const out: LdifRecord[] = []
  for (const block of text.split(/\n\s*\n/)) {
    const lines: string[] = []
    for (const raw of block.split('\n')) {
      if (raw.startsWith('#')) continue
      if (raw.startsWith(' ') && lines.length) lines[lines.length - 1] += raw.slice(1)
      else if (raw) lines.push(raw)
    }
    let dn: string | undefined
    const attrs = new Map<string, Buffer[]>()
    for (const l of lines) {
      const m = /^([^:]+)(::?) ?(.*)$/.exec(l)
      if (!m) continue
      const value = m[2] === '::' ? Buffer.from(m[3], 'base64') : Buffer.from(m[3], 'utf8')
      if (m[1] === 'dn') dn = value.toString('utf8')
      else (attrs.get(m[1]) ?? attrs.set(m[1], []).get(m[1])!).push(value)
    }
    if (dn !== undefined) out.push({ dn, attrs })
  }
  return out
}

export const text = (r: LdifRecord, a: string): string[] => (r.attrs.get(a) ?? []).map((b) => b.toString('utf8'))
export const first = (r: LdifRecord, a: string): string | undefined => text(r, a)[0]
