/**
 * The security descriptor codec against Samba's own NDR decoder (python3 samba.dcerpc.security, the
 * code a Samba DC runs), on the 96 REAL Windows descriptors of a real ntds.dit's sd_table (go-ese's
 * golden dump in the fixtures): owner, group, every ACE of DACL and SACL (type, flags, mask, trustee,
 * object and inherited object types) must be what Samba reads; what we encode back must be read by Samba
 * as the same descriptor (same SDDL); a descriptor Samba refuses, we refuse with a RangeError too.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { encodeSecurityDescriptor, explicitAces, parseSecurityDescriptor, restorablePart, type Acl } from '../../backend/active-directory/security-descriptor.ts'

const GOLDEN = '/work/shared/fixtures/ese/go-ese/golden/ntds.dit_sd_table.golden'
const rows = readFileSync(GOLDEN, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { sd_id: number; sd_value: string })

interface SambaAce { type: number; flags: number; mask: number; sid: string; objectType?: string; inheritedObjectType?: string }
interface SambaSd { ok: true; owner?: string; group?: string; control: number; dacl?: SambaAce[]; sacl?: SambaAce[]; sddl: string }

/** Samba's reading of each hex descriptor (or its refusal). */
function samba(hexes: string[]): (SambaSd | { ok: false; error: string })[] {
  const script = `
import json, sys
from samba.dcerpc import security
from samba.ndr import ndr_unpack
OBJ = {5, 6, 7, 8, 11, 12, 15, 16}
def aces(acl):
    if acl is None: return None
    out = []
    for a in acl.aces:
        d = {'type': a.type, 'flags': a.flags, 'mask': a.access_mask, 'sid': str(a.trustee)}
        if a.type in OBJ:
            if a.object.flags & 1: d['objectType'] = str(a.object.type)
            if a.object.flags & 2: d['inheritedObjectType'] = str(a.object.inherited_type)
        out.append(d)
    return out
res = []
for h in json.load(sys.stdin):
    try:
        sd = ndr_unpack(security.descriptor, bytes.fromhex(h))
        r = {'ok': True, 'control': sd.type, 'dacl': aces(sd.dacl), 'sacl': aces(sd.sacl), 'sddl': sd.as_sddl()}
        if sd.owner_sid is not None: r['owner'] = str(sd.owner_sid)
        if sd.group_sid is not None: r['group'] = str(sd.group_sid)
        res.append(r)
    except Exception as e:
        res.append({'ok': False, 'error': str(e)})
print(json.dumps(res))
`
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(hexes), encoding: 'utf8', maxBuffer: 64 << 20 }))
}

const ours = (acl: Acl | undefined) => acl && acl.aces.map((a) => ({
  type: a.type, flags: a.flags, mask: a.mask, sid: a.sid,
  ...(a.objectType ? { objectType: a.objectType } : {}), ...(a.inheritedObjectType ? { inheritedObjectType: a.inheritedObjectType } : {}),
}))

test('96 real Windows descriptors: read as Samba reads them; the one Samba refuses is refused', () => {
  const expected = samba(rows.map((r) => r.sd_value))
  let compared = 0, refused = 0, aces = 0
  rows.forEach((r, i) => {
    const want = expected[i]!
    const bytes = Buffer.from(r.sd_value, 'hex')
    if (!want.ok) {
      assert.throws(() => parseSecurityDescriptor(bytes), RangeError, `sd_id ${r.sd_id}: Samba refuses it (${want.error})`)
      refused++
      return
    }
    const sd = parseSecurityDescriptor(bytes)
    assert.equal(sd.owner, want.owner, `sd_id ${r.sd_id} owner`)
    assert.equal(sd.group, want.group, `sd_id ${r.sd_id} group`)
    assert.equal(sd.control, want.control, `sd_id ${r.sd_id} control`)
    assert.deepEqual(ours(sd.dacl) ?? null, want.dacl ?? null, `sd_id ${r.sd_id} DACL`)
    assert.deepEqual(ours(sd.sacl) ?? null, want.sacl ?? null, `sd_id ${r.sd_id} SACL`)
    compared++
    aces += (sd.dacl?.aces.length ?? 0) + (sd.sacl?.aces.length ?? 0)
  })
  assert.equal(compared, 95)
  assert.equal(refused, 1)
  assert.ok(aces > 1000, `${aces} ACEs compared`)
})

test('what we encode (whole, and the restorable part: owner, group, explicit ACEs) Samba reads back as the same descriptor', () => {
  const parsed = rows.map((r) => { try { return parseSecurityDescriptor(Buffer.from(r.sd_value, 'hex')) } catch { return undefined } }).filter((x) => x !== undefined)
  const original = samba(rows.map((r) => r.sd_value)).filter((x) => x.ok) as SambaSd[]
  const whole = samba(parsed.map((sd) => encodeSecurityDescriptor(sd).toString('hex')))
  whole.forEach((w, i) => assert.deepEqual(w, original[i], `descriptor ${i} re-encoded`))
  const parts = samba(parsed.map((sd) => encodeSecurityDescriptor(restorablePart(sd)).toString('hex')))
  let withInherited = 0
  parts.forEach((p, i) => {
    assert.ok(p.ok, JSON.stringify(p))
    const want = parsed[i]!
    assert.equal((p as SambaSd).owner, want.owner)
    assert.equal((p as SambaSd).sacl, null, 'never a SACL')
    assert.deepEqual((p as SambaSd).dacl, ours({ revision: 4, aces: explicitAces(want.dacl) }))
    if (want.dacl?.aces.some((a) => a.flags & 0x10)) withInherited++
  })
  assert.ok(withInherited > 10, `${withInherited} descriptors had inherited ACEs to leave out`)
})

test('truncated and damaged descriptors give a RangeError, never a wrong answer or a hang', () => {
  const real = Buffer.from(rows[1]!.sd_value, 'hex')
  for (let n = 0; n < real.length; n += 7) {
    const cut = real.subarray(0, n)
    try { parseSecurityDescriptor(cut) } catch (e) { assert.ok(e instanceof RangeError, `${n} bytes: ${(e as Error).message}`) ; continue }
    // A prefix that still parses holds everything the offsets point at: then it is the same descriptor.
    assert.deepEqual(parseSecurityDescriptor(cut).owner, parseSecurityDescriptor(real).owner)
  }
  const badAce = Buffer.from(real)
  badAce.writeUInt16LE(2, badAce.readUInt32LE(16) + 8 + 2) // first DACL ACE claims 2 bytes
  assert.throws(() => parseSecurityDescriptor(badAce), /ACE 0 has a bad size/)
})
