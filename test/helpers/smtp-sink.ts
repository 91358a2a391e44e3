/**
 * A real SMTP server (the `smtp-server` package) as its own process, for tests: listens on 127.0.0.1
 * at the port given, accepts any login (when AUTH is used) and every message, and writes each to
 * DIR/N.eml with its envelope in DIR/N.json. Usage: node smtp-sink.ts PORT DIR
 */
import { SMTPServer } from 'smtp-server'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const [port, dir] = [Number(process.argv[2]), process.argv[3]]
let n = 0
const server = new SMTPServer({
  secure: false, authOptional: true, disabledCommands: ['STARTTLS'], logger: false, banner: 'stillpoint test sink',
  onAuth(auth, _session, cb) { cb(null, { user: auth.username }) },
  onData(stream, session, cb) {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const k = ++n
      writeFileSync(join(dir, `${k}.json`), JSON.stringify({ from: session.envelope.mailFrom && session.envelope.mailFrom.address, to: session.envelope.rcptTo.map((r) => r.address), user: session.user ?? null }))
      writeFileSync(join(dir, `${k}.eml`), Buffer.concat(chunks))
      cb(null, `queued as ${k}`)
    })
  },
})
server.listen(port, '127.0.0.1')
process.on('SIGTERM', () => server.close(() => process.exit(0)))
