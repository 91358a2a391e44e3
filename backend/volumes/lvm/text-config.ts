/**
 * LVM2's text configuration format (the VG metadata in a PV's metadata area):
 *   name { key = "string"  n = 42  list = ["a", 1]  child { ... } }   # comments
 * Parsed from guest bytes, so bounded in size, depth and element count; errors are FsError ECORRUPT.
 */
import { FsError } from '../../filesystems/types.ts'

export type ConfigValue = string | number | ConfigValue[] | ConfigSection
export interface ConfigSection { [key: string]: ConfigValue }

export const MAX_CONFIG_BYTES = 16 * 1024 * 1024
const MAX_DEPTH = 32
const MAX_ELEMENTS = 1_000_000

const isIdent = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2e || c === 0x2b || c === 0x2d || c === 0x2f || c === 0x40

export function isSection(v: ConfigValue | undefined): v is ConfigSection {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function parseConfig(text: string): ConfigSection {
  if (text.length > MAX_CONFIG_BYTES) throw new FsError('ELIMIT', `LVM metadata of ${text.length} bytes is larger than the ${MAX_CONFIG_BYTES} we read`)
  let i = 0
  let elements = 0
  const fail = (what: string): never => {
    const line = text.slice(0, i).split('\n').length
    throw new FsError('ECORRUPT', `LVM metadata: ${what} at line ${line}`)
  }
  const skip = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === 0x23) { const nl = text.indexOf('\n', i); i = nl < 0 ? text.length : nl + 1 } // # comment
      else if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0) i++
      else break
    }
  }
  const ident = (): string => {
    const s = i
    while (i < text.length && isIdent(text.charCodeAt(i))) i++
    if (i === s) fail(`unexpected ${JSON.stringify(text[i] ?? 'end of text')}`)
    return text.slice(s, i)
  }
  const str = (): string => {
    i++ // opening quote
    let out = ''
    let s = i
    for (;;) {
      if (i >= text.length) fail('unterminated string')
      const c = text.charCodeAt(i)
      if (c === 0x22) { out += text.slice(s, i); i++; return out }
      if (c === 0x5c) { out += text.slice(s, i); i++; if (i < text.length) out += text[i]; i++; s = i; continue }
      i++
    }
  }
  const value = (depth: number): ConfigValue => {
    if (++elements > MAX_ELEMENTS) fail('too many elements')
    skip()
    const c = text[i]
    if (c === '"') return str()
    if (c === '[') {
      if (depth > MAX_DEPTH) fail('lists nested too deeply')
      i++
      const list: ConfigValue[] = []
      skip()
      if (text[i] === ']') { i++; return list }
      for (;;) {
        list.push(value(depth + 1))
        skip()
        if (text[i] === ',') { i++; continue }
        if (text[i] === ']') { i++; return list }
        fail('expected "," or "]" in a list')
      }
    }
    const s = i
    while (i < text.length && /[-+0-9.eExX]/.test(text[i]!)) i++
    const n = Number(text.slice(s, i))
    if (i === s || !Number.isFinite(n)) fail('expected a value')
    return n
  }
  const body = (depth: number, closing: boolean): ConfigSection => {
    if (depth > MAX_DEPTH) fail('sections nested too deeply')
    const out: ConfigSection = Object.create(null) as ConfigSection
    for (;;) {
      skip()
      if (i >= text.length) { if (closing) fail('missing "}"'); return out }
      if (text[i] === '}') { if (!closing) fail('unexpected "}"'); i++; return out }
      if (++elements > MAX_ELEMENTS) fail('too many elements')
      const key = ident()
      skip()
      if (text[i] === '{') { i++; out[key] = body(depth + 1, true) }
      else if (text[i] === '=') { i++; out[key] = value(depth) }
      else fail(`expected "=" or "{" after ${JSON.stringify(key.slice(0, 64))}`)
    }
  }
  return body(0, false)
}
