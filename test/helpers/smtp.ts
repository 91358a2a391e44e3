/**
 * A real SMTP server for tests: test/helpers/smtp-sink.ts (the `smtp-server` package) in a child
 * process on a loopback port; ready when its 220 greeting arrives (polled with a deadline). Received
 * messages are files in `dir` (N.eml and N.json with the envelope).
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './dovecot.ts'
import { until } from './wait.ts'

export interface SmtpSink { host: string; port: number; dir: string; received(): { envelope: { from: string; to: string[]; user: string | null }; raw: Buffer }[]; stop(): Promise<void> }

function greeting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    const done = (ok: boolean) => { s.destroy(); resolve(ok) }
    s.setTimeout(2000, () => done(false))
    s.on('data', (d) => done(d.toString().startsWith('220')))
    s.on('error', () => done(false))
  })
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const dir = mkdtempSync(join(tmpdir(), 'stillpoint-smtp-'))
  const port = await freePort()
  const child = spawn(process.execPath, [fileURLToPath(new URL('./smtp-sink.ts', import.meta.url)), String(port), dir], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = '', exited: number | null | undefined
  child.stderr.on('data', (d) => { err += d })
  child.on('exit', (c) => { exited = c })
  await until('the SMTP server to greet', async () => {
    if (exited !== undefined) throw new Error(`the SMTP server exited (${exited}): ${err}`)
    return greeting(port)
  }, { timeoutMs: 60_000, everyMs: 100 })
  return {
    host: '127.0.0.1', port, dir,
    received() {
      const out = []
      for (let k = 1; existsSync(join(dir, `${k}.eml`)); k++) out.push({ envelope: JSON.parse(readFileSync(join(dir, `${k}.json`), 'utf8')), raw: readFileSync(join(dir, `${k}.eml`)) })
      return out
    },
    async stop() {
      if (exited === undefined) { const gone = new Promise((r) => child.once('exit', r)); child.kill('SIGTERM'); await gone }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
