// The notification tests' real peers: the SMTP receiver child process (smtp-receiver.ts) and a
// node:http server taking the webhook's JSON. Both collect what arrives and let a test wait for it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface Received { from: string; to: string[]; user?: string; password?: string; mail: ParsedMail }

/** Waits until `pick` finds something in `list` (re-checked on every arrival), or fails after the deadline. */
function waiter<T>(list: T[], wake: Set<() => void>) {
  return <R>(pick: (all: T[]) => R | undefined, what: string, timeoutMs = 60_000): Promise<R> => new Promise((resolve, reject) => {
    const check = () => { const r = pick(list); if (r !== undefined) { wake.delete(check); clearTimeout(t); resolve(r); } };
    const t = setTimeout(() => { wake.delete(check); reject(new Error(`timed out waiting for ${what}; got ${list.length} item(s)`)); }, timeoutMs);
    wake.add(check);
    check();
  });
}

export interface SmtpReceiver { port: number; messages: Received[]; waitFor<R>(pick: (all: Received[]) => R | undefined, what: string): Promise<R>; stop(): Promise<void> }

export async function startSmtpReceiver(): Promise<SmtpReceiver> {
  const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('./smtp-receiver.ts', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const messages: Received[] = [];
  const wake = new Set<() => void>();
  const lines = createInterface({ input: child.stdout! });
  let parsing = Promise.resolve();
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`SMTP receiver exited (${code})`)));
    lines.on('line', (line) => {
      const m = JSON.parse(line) as { port?: number; from: string; to: string[]; user?: string; password?: string; raw: string };
      if (m.port) { resolve(m.port); return; }
      parsing = parsing.then(async () => {
        messages.push({ from: m.from, to: m.to, ...(m.user ? { user: m.user } : {}), ...(m.password ? { password: m.password } : {}), mail: await simpleParser(Buffer.from(m.raw, 'base64')) });
        for (const w of [...wake]) w();
      });
    });
  });
  return {
    port, messages, waitFor: waiter(messages, wake),
    async stop() { child.stdin!.end(); if (child.exitCode === null) await once(child, 'exit'); },
  };
}

export interface WebhookReceiver { url: string; posts: { headers: Record<string, unknown>; body: Record<string, unknown> }[]; waitFor<R>(pick: (all: WebhookReceiver['posts']) => R | undefined, what: string): Promise<R>; stop(): Promise<void> }

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const posts: WebhookReceiver['posts'] = [];
  const wake = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      for (const w of [...wake]) w();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hooks/stillpoint`, posts, waitFor: waiter(posts, wake),
    async stop() { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
}
