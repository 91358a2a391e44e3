// Re-IP at failover: rules (source subnet → DR subnet, gateway, DNS) turned into guest commands per
// network adapter, run through guest operations while the adapter is disconnected. Never through a
// customization spec: on Windows that runs sysprep and changes the machine SID (domain members break).
// The new address keeps the guest's host bits: 10.20.4.17 under 10.20.0.0/16 → 192.168.0.0/16 is 192.168.4.17.
import { InvalidRequest } from '../../common/errors.ts';
import type { GuestFamily } from '../../model/guest.ts';
import type { GuestCredentials, GuestProgram, MoRef, VSphere } from '../../vsphere/index.ts';
import { say } from '../../common/service-text.ts';

export interface ReIpRule {
  /** The production subnet a guest address must be in, CIDR ("10.20.0.0/16"). */
  sourceSubnet: string;
  /** The DR subnet, CIDR ("192.168.20.0/24"): its prefix is the new mask. */
  targetSubnet: string;
  gateway?: string;
  dns?: string[];
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

export function ipToInt(ip: string): number {
  if (!IPV4.test(ip)) throw new InvalidRequest(`'${ip}' is not an IPv4 address.`);
  return ip.split('.').reduce((n, o) => (n * 256) + Number(o), 0) >>> 0;
}
export const intToIp = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

function parseCidr(c: string, field: string): { net: number; prefix: number; mask: number } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(c?.trim() ?? '');
  const prefix = m ? Number(m[2]) : -1;
  if (!m || !IPV4.test(m[1]!) || prefix < 1 || prefix > 32) throw new InvalidRequest(`${field} '${c}' is not an IPv4 subnet in CIDR form, e.g. 10.20.0.0/16.`);
  const mask = prefix === 32 ? 0xffffffff : (~(0xffffffff >>> prefix)) >>> 0;
  return { net: (ipToInt(m[1]!) & mask) >>> 0, prefix, mask };
}

/** Checks rules as given by a user (400 on the first mistake). */
export function checkReIpRules(rules: ReIpRule[] | undefined): ReIpRule[] {
  for (const [i, r] of (rules ?? []).entries()) {
    parseCidr(r.sourceSubnet, `reIp[${i}].sourceSubnet`);
    parseCidr(r.targetSubnet, `reIp[${i}].targetSubnet`);
    if (r.gateway !== undefined && !IPV4.test(r.gateway)) throw new InvalidRequest(`reIp[${i}].gateway '${r.gateway}' is not an IPv4 address.`);
    for (const d of r.dns ?? []) if (!IPV4.test(d)) throw new InvalidRequest(`reIp[${i}].dns '${d}' is not an IPv4 address.`);
  }
  return rules ?? [];
}

export interface NewAddress { ip: string; prefix: number; mask: string; gateway?: string; dns: string[] }

/** The DR address for a guest address: the first rule whose source subnet holds it; undefined when none does. */
export function translate(ip: string, rules: ReIpRule[]): NewAddress | undefined {
  if (!IPV4.test(ip)) return undefined;
  const a = ipToInt(ip);
  for (const r of rules) {
    const s = parseCidr(r.sourceSubnet, 'sourceSubnet');
    if (((a & s.mask) >>> 0) !== s.net) continue;
    const t = parseCidr(r.targetSubnet, 'targetSubnet');
    const out = ((t.net & t.mask) | (a & ~t.mask)) >>> 0;
    return { ip: intToIp(out), prefix: t.prefix, mask: intToIp(t.mask), ...(r.gateway ? { gateway: r.gateway } : {}), dns: r.dns ?? [] };
  }
  return undefined;
}

/** The guest commands that give the adapter with this MAC its new address, then its DNS servers, in order. */
export function reIpCommands(family: GuestFamily, mac: string, a: NewAddress): { what: string; program: GuestProgram }[] {
  if (family === 'windows') {
    const dash = mac.toUpperCase().replace(/:/g, '-');
    const find = `$a = Get-NetAdapter | Where-Object { $_.MacAddress -eq '${dash}' }; if (-not $a) { exit 3 }; `;
    const ps = (script: string): GuestProgram => ({
      programPath: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      arguments: `-NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "${find}${script}"`,
    });
    const out = [{
      what: `address ${a.ip}/${a.prefix}${a.gateway ? ` via ${a.gateway}` : ''}`,
      program: ps('Set-NetIPInterface -InterfaceIndex $a.ifIndex -Dhcp Disabled; ' +
        'Get-NetIPAddress -InterfaceIndex $a.ifIndex -AddressFamily IPv4 -ErrorAction SilentlyContinue | Remove-NetIPAddress -Confirm:$false; ' +
        'Get-NetRoute -InterfaceIndex $a.ifIndex -DestinationPrefix 0.0.0.0/0 -ErrorAction SilentlyContinue | Remove-NetRoute -Confirm:$false; ' +
        `New-NetIPAddress -InterfaceIndex $a.ifIndex -IPAddress ${a.ip} -PrefixLength ${a.prefix}${a.gateway ? ` -DefaultGateway ${a.gateway}` : ''} | Out-Null`),
    }];
    if (a.dns.length) out.push({ what: `DNS ${a.dns.join(', ')}`, program: ps(`Set-DnsClientServerAddress -InterfaceIndex $a.ifIndex -ServerAddresses ${a.dns.join(',')}`) });
    return out;
  }
  const lower = mac.toLowerCase();
  const find = `dev=''; for f in /sys/class/net/*/address; do [ "$(cat "$f")" = '${lower}' ] && dev=$(basename "$(dirname "$f")"); done; [ -n "$dev" ] || exit 3; `;
  const sh = (script: string): GuestProgram => ({ programPath: '/bin/sh', arguments: `-c "${script.replace(/"/g, '\\"')}"` });
  const out = [{
    what: `address ${a.ip}/${a.prefix}${a.gateway ? ` via ${a.gateway}` : ''}`,
    program: sh(`${find}ip -4 addr flush dev "$dev" && ip addr add ${a.ip}/${a.prefix} dev "$dev"${a.gateway ? ` && ip route replace default via ${a.gateway} dev "$dev"` : ''}`),
  }];
  if (a.dns.length) out.push({ what: `DNS ${a.dns.join(', ')}`, program: sh(`printf '${a.dns.map((d) => `nameserver ${d}\\n`).join('')}' > /etc/resolv.conf`) });
  return out;
}

/** The guest's IPv4 addresses per NIC key as Tools reports them (guest.net); the primary address for the first NIC when net is empty. */
export async function guestAddresses(vs: VSphere, vm: MoRef, nicKeys: number[]): Promise<Map<number, string[]>> {
  const p = await vs.pc.retrieveOne<{ 'guest.net'?: { deviceConfigId?: number; ipAddress?: string[]; ipConfig?: { ipAddress?: { ipAddress: string }[] } }[]; 'guest.ipAddress'?: string }>(vm, ['guest.net', 'guest.ipAddress']);
  const out = new Map<number, string[]>();
  for (const n of p['guest.net'] ?? []) {
    if (n.deviceConfigId === undefined) continue;
    const ips = [...(n.ipAddress ?? []), ...(n.ipConfig?.ipAddress ?? []).map((x) => x.ipAddress)].filter((x) => IPV4.test(x));
    if (ips.length) out.set(Number(n.deviceConfigId), [...new Set(ips)]);
  }
  const primary = p['guest.ipAddress'];
  if (nicKeys.length && !out.has(nicKeys[0]!) && primary && IPV4.test(primary)) out.set(nicKeys[0]!, [primary]);
  return out;
}

export interface ReIpDone { nicKey: number; from: string; to: string; commands: string[] }

/** Runs the re-IP commands of each NIC (whose address a rule matches) in the guest; the first failure stops it. */
export async function applyReIp(vs: VSphere, vm: MoRef, family: GuestFamily, creds: GuestCredentials, nics: { key: number; mac: string }[], rules: ReIpRule[],
  opts: { signal?: AbortSignal; onStep?: (what: string) => void } = {}): Promise<ReIpDone[]> {
  if (!rules.length || !nics.length) return [];
  const addresses = await guestAddresses(vs, vm, nics.map((n) => n.key));
  const done: ReIpDone[] = [];
  for (const n of nics) {
    for (const ip of addresses.get(n.key) ?? []) {
      const to = translate(ip, rules);
      if (!to) continue;
      const cmds = reIpCommands(family, n.mac, to);
      for (const c of cmds) {
        opts.onStep?.(say('phase.reIpStep', { nic: n.key, step: c.what }));
        const r = await vs.guest.run(vm, creds, c.program, { timeoutMs: 120_000, ...(opts.signal ? { signal: opts.signal } : {}) });
        if (r.exitCode !== 0) {
          throw new Error(`Re-IP of network adapter ${n.key} (${ip} → ${to.ip}): '${c.what}' exited with code ${r.exitCode}` +
            (r.exitCode === 3 ? ` (no adapter with MAC ${n.mac} in the guest)` : '') + ': check the guest credential\'s rights and the guest\'s network configuration.');
        }
      }
      done.push({ nicKey: n.key, from: ip, to: `${to.ip}/${to.prefix}`, commands: cmds.map((c) => c.what) });
      break;
    }
  }
  return done;
}
