/**
 * A live Samba AD DC (Debian's samba) for tests: provisioned offline once per machine into a cached
 * template (samba-tool domain provision, ~20 s idle), copied into a temp dir per test file, and
 * started serving LDAP/LDAPS on a loopback address of its own (127.x.y.z, so several can run side
 * by side on the standard ports). Readiness is an LDAPS bind as Administrator, polled with a
 * deadline. Only the LDAP server runs (server services = ldap): no SMB, Kerberos, DNS or NetBIOS.
 *
 *   const dc = await startSambaDc()
 *   const ldap = await dc.client()          // ldapts Client bound as LAB\Administrator over LDAPS
 *   …
 *   await dc.stop()
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client } from 'ldapts'

export const SAMBA_REALM = 'LAB.LOCAL'
export const SAMBA_DOMAIN = 'LAB'
export const SAMBA_BASE_DN = 'DC=lab,DC=local'
export const SAMBA_ADMIN_PASSWORD = 'Stillp0int-Lab!Admin'
const env = { ...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin` }
/** Stands for the directory in the template's smb.conf; replaced by the copy's directory. */
const TEMPLATE_MARK = '/__STILLPOINT_SAMBA_TEMPLATE__'

export interface SambaDc {
  /** The DC's directory (etc/smb.conf, private/sam.ldb …). */
  dir: string
  address: string
  url: string
  baseDn: string
  realm: string
  adminUser: string
  adminPassword: string
  /** A new ldapts client bound over LDAPS (as Administrator unless other credentials are given). */
  client(user?: string, password?: string): Promise<Client>
  stop(): Promise<void>
}

function samba(): string { return existsSync('/usr/sbin/samba') ? '/usr/sbin/samba' : 'samba' }

/** The provisioned template (cached across test runs under the temp dir; built atomically). Copy it before use. */
export function sambaTemplate(): string {
  const version = execFileSync(samba(), ['--version'], { env, encoding: 'utf8' }).trim().replace(/[^\w.-]+/g, '_')
  const dir = join(tmpdir(), `stillpoint-samba-template-${version}-v1`)
  if (existsSync(join(dir, '.done'))) return dir
  const work = mkdtempSync(join(tmpdir(), 'stillpoint-samba-provision-'))
  try {
    execFileSync('samba-tool', ['domain', 'provision', `--realm=${SAMBA_REALM}`, `--domain=${SAMBA_DOMAIN}`, '--server-role=dc', '--dns-backend=NONE',
      '--use-rfc2307', `--targetdir=${work}`, `--adminpass=${SAMBA_ADMIN_PASSWORD}`, '--host-name=dc01',
      '--option=interfaces=127.0.0.1/8', '--option=bind interfaces only=yes', '--option=server services=ldap'],
    { env, stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 })
    const conf = join(work, 'etc', 'smb.conf')
    writeFileSync(conf, readFileSync(conf, 'utf8').split(work).join(TEMPLATE_MARK))
    writeFileSync(join(work, '.done'), '')
    try { renameSync(work, dir) } catch { /* a concurrent build won */ }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  if (!existsSync(join(dir, '.done'))) throw new Error(`Samba template missing after provisioning: ${dir}`)
  return dir
}

/** A loopback address no other DC of this machine is likely to use. */
function loopbackAddress(): string {
  const n = (process.pid * 7919 + Math.floor(Math.random() * 1e6)) % (250 * 250)
  return `127.${100 + (n % 100)}.${1 + Math.floor(n / 250) % 250}.${2 + (n % 250)}`
}

const live = new Set<ChildProcess>()
process.on('exit', () => { for (const p of live) p.kill('SIGKILL') })

export interface SambaDcOptions {
  readyTimeoutMs?: number
  /**
   * Enable the AD Recycle Bin optional feature before the DC starts. Samba allows this only to the
   * local system (rootDSE enableOptionalFeature through ldbmodify on sam.ldb, as Windows' Enable-ADOptionalFeature
   * does over LDAP): deleted objects then keep their attributes and links until recycled.
   */
  recycleBin?: boolean
}

/** rootDSE enableOptionalFeature: the Partitions container : the Recycle Bin Feature's GUID. */
function enableRecycleBin(dir: string): void {
  const ldif = join(dir, 'enable-recycle-bin.ldif')
  writeFileSync(ldif, `dn:\nchangetype: modify\nadd: enableOptionalFeature\nenableOptionalFeature: CN=Partitions,CN=Configuration,${SAMBA_BASE_DN}:766ddcd8-acd0-445e-f3b9-a7f9b6744f2a\n`)
  execFileSync('ldbmodify', ['-H', join(dir, 'private', 'sam.ldb'), ldif], { env, stdio: ['ignore', 'ignore', 'pipe'] })
  rmSync(ldif)
}

export async function startSambaDc(opts: SambaDcOptions = {}): Promise<SambaDc> {
  const tpl = sambaTemplate()
  const dir = mkdtempSync(join(tmpdir(), 'stillpoint-samba-dc-'))
  cpSync(tpl, dir, { recursive: true })
  if (opts.recycleBin) enableRecycleBin(dir)
  const address = loopbackAddress()
  const conf = join(dir, 'etc', 'smb.conf')
  writeFileSync(conf, readFileSync(conf, 'utf8').split(TEMPLATE_MARK).join(dir).replace(/interfaces = .*/, `interfaces = ${address}/8`))
  mkdirSync(join(dir, 'log'), { recursive: true })
  mkdirSync(join(dir, 'run'), { recursive: true })
  let output = ''
  const child = spawn(samba(), ['-s', conf, '-i', '-M', 'single', '--debug-stdout', '-d', '1', '--option', `log file = ${join(dir, 'log', 'samba.log')}`, '--option', `pid directory = ${join(dir, 'run')}`],
    { env, stdio: ['ignore', 'pipe', 'pipe'] })
  live.add(child)
  const keep = (d: Buffer) => { output = (output + d.toString('utf8')).slice(-8000) }
  child.stdout!.on('data', keep)
  child.stderr!.on('data', keep)
  let exited: string | undefined
  const exit = new Promise<void>((resolve) => child.once('exit', (code, signal) => { exited = `${code ?? signal}`; live.delete(child); resolve() }))
  const url = `ldaps://${address}:636`
  const client = async (user = `Administrator@${SAMBA_REALM.toLowerCase()}`, password = SAMBA_ADMIN_PASSWORD) => {
    // Verified like the product's connections: Samba's own CA (written when it first serves TLS) and the DC's name.
    const ca = readFileSync(join(dir, 'private', 'tls', 'ca.pem'), 'utf8')
    const c = new Client({ url, timeout: 30_000, connectTimeout: 10_000, tlsOptions: { ca, servername: `dc01.${SAMBA_REALM.toLowerCase()}` } })
    await c.bind(user, password)
    return c
  }
  const stop = async () => {
    if (exited === undefined) { child.kill('SIGTERM'); await Promise.race([exit, new Promise((r) => setTimeout(r, 5000).unref())]); if (exited === undefined) child.kill('SIGKILL') }
    await exit
    rmSync(dir, { recursive: true, force: true })
  }
  // Ready when an LDAPS bind succeeds (the TLS key is generated on first start).
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000)
  let last: unknown
  for (;;) {
    if (exited !== undefined) { await stop(); throw new Error(`samba exited (${exited}) before it served LDAPS:\n${output}`) }
    try { const c = await client(); await c.unbind(); break } catch (e) { last = e }
    if (Date.now() > deadline) { await stop(); throw new Error(`samba did not answer an LDAPS bind on ${url} in time: ${(last as Error)?.message}\n${output}`) }
    await new Promise<void>((resolve) => { const t = setTimeout(resolve, 200); child.once('exit', () => { clearTimeout(t); resolve() }) })
  }
  return { dir, address, url, baseDn: SAMBA_BASE_DN, realm: SAMBA_REALM, adminUser: `Administrator@${SAMBA_REALM.toLowerCase()}`, adminPassword: SAMBA_ADMIN_PASSWORD, client, stop }
}
