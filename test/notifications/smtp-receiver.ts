// A real SMTP server (smtp-server) on loopback, run as a child process by the notification tests.
// Prints {"port":N} once listening, then one JSON line per accepted message:
// {"from":…,"to":[…],"user":…,"password":…,"raw":"<base64 of the whole message>"}. Ends on stdin EOF.
import { SMTPServer } from 'smtp-server';

const server = new SMTPServer({
  authOptional: true,
  allowInsecureAuth: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onAuth(auth, _session, cb) { cb(null, { user: { name: auth.username, password: auth.password } }); },
  onData(stream, session, cb) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const user = session.user as { name?: string; password?: string } | undefined;
      process.stdout.write(JSON.stringify({
        from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address),
        user: user?.name, password: user?.password, raw: Buffer.concat(chunks).toString('base64'),
      }) + '\n');
      cb();
    });
  },
});
server.listen(0, '127.0.0.1', () => {
  const a = server.server.address() as { port: number };
  process.stdout.write(JSON.stringify({ port: a.port }) + '\n');
});
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
