/**
 * A real IMAP server for tests: Debian's Dovecot (dovecot-imapd) started as a child process with a
 * temp config — one loopback IMAP port, passwd-file users, maildir mail in a temp dir, no SSL unless asked — and
 * ready once its IMAP greeting arrives (polled with a deadline). stop() ends exactly that process.
 *
 *   const imap = await startDovecot()          // imap.port, imap.user, imap.password
 *   …
 *   await imap.stop()
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { until } from './wait.ts'

export interface Dovecot { host: string; port: number; user: string; password: string; dir: string; log(): string; stop(): Promise<void> }

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)) })
  })
}

function greets(port: number, expect: RegExp): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1')
    let got = ''
    const done = (ok: boolean) => { sock.destroy(); resolve(ok) }
    sock.setTimeout(2000, () => done(false))
    sock.on('data', (d) => { got += d.toString(); if (expect.test(got)) done(true) })
    sock.on('error', () => done(false))
  })
}

/** A private CA made with openssl in `dir` and a server certificate it signed for 127.0.0.1 (for `tls` below). */
export function makeTestCa(dir: string): { caPem: string; caFile: string; certFile: string; keyFile: string } {
  const f = (n: string) => join(dir, n)
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] })
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=Stillpoint test mail CA')
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1')
  writeFileSync(f('server.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n')
  ssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('server.ext'))
  return { caPem: readFileSync(f('ca.pem'), 'utf8'), caFile: f('ca.pem'), certFile: f('server.pem'), keyFile: f('server.key') }
}

/** `tls`: PEM files of the server's certificate and key; IMAP then offers STARTTLS (and still takes plain logins). */
export async function startDovecot(opts: { user?: string; password?: string; tls?: { certFile: string; keyFile: string } } = {}): Promise<Dovecot> {
  const user = opts.user ?? 'alice', password = opts.password ?? 'Imap-Test-Pass-1'
  const dir = mkdtempSync(join(tmpdir(), 'stillpoint-dovecot-'))
  const mail = join(dir, 'mail'), run = join(dir, 'run')
  mkdirSync(mail); mkdirSync(run)
  // Mail is stored as the unprivileged "dovenull"-free mail user: the test's own uid when not root, else dovecot's.
  const uid = process.getuid?.() === 0 ? 102 : process.getuid?.() ?? 1000
  const gid = process.getuid?.() === 0 ? 105 : process.getgid?.() ?? 1000
  if (process.getuid?.() === 0) { chownSync(mail, uid, gid); chmodSync(dir, 0o755) }
  writeFileSync(join(dir, 'users'), `${user}:{PLAIN}${password}:${uid}:${gid}::${mail}/${user}::\n`)
  const port = await freePort()
  const conf = join(dir, 'dovecot.conf')
  writeFileSync(conf, [
    `base_dir = ${run}`, `state_dir = ${join(dir, 'state')}`, 'protocols = imap', 'listen = 127.0.0.1', ...(opts.tls ? ['ssl = yes', `ssl_cert = <${opts.tls.certFile}`, `ssl_key = <${opts.tls.keyFile}`] : ['ssl = no']),
    'disable_plaintext_auth = no', 'auth_mechanisms = plain login', `log_path = ${join(dir, 'dovecot.log')}`,
    'first_valid_uid = 1', 'mail_location = maildir:~/Maildir',
    process.getuid?.() === 0 ? 'default_internal_user = dovecot\ndefault_login_user = dovenull' : `default_internal_user = ${process.env.USER ?? 'nobody'}\ndefault_login_user = ${process.env.USER ?? 'nobody'}`,
    `service imap-login {\n  inet_listener imap {\n    address = 127.0.0.1\n    port = ${port}\n  }\n  inet_listener imaps {\n    port = 0\n  }\n}`,
    'service anvil {\n  chroot =\n}', 'service imap-login {\n  chroot =\n}',
    `passdb {\n  driver = passwd-file\n  args = scheme=PLAIN ${join(dir, 'users')}\n}`,
    `userdb {\n  driver = passwd-file\n  args = ${join(dir, 'users')}\n}`,
    'namespace inbox {\n  inbox = yes\n  separator = /\n}',
  ].join('\n') + '\n')
  mkdirSync(join(dir, 'state'))
  const child: ChildProcess = spawn('/usr/sbin/dovecot', ['-F', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (d) => { output += d })
  child.stderr!.on('data', (d) => { output += d })
  let exited: number | null | undefined
  child.on('exit', (code) => { exited = code })
  const log = () => { try { return output + readFileSync(join(dir, 'dovecot.log'), 'utf8') } catch { return output } }
  await until('Dovecot to greet on its IMAP port', async () => {
    if (exited !== undefined) throw new Error(`dovecot exited (${exited}) before it was ready: ${output}`)
    return greets(port, /\* OK .*ready/i)
  }, { timeoutMs: 60_000, everyMs: 100 })
  return {
    host: '127.0.0.1', port, user, password, dir, log,
    async stop() {
      if (exited === undefined) {
        const gone = new Promise((r) => child.once('exit', r))
        child.kill('SIGTERM')
        await gone
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
