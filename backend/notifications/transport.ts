// Delivery: e-mail over SMTP (nodemailer) and the chat webhook (a JSON POST). Errors say what to check;
// the SMTP password is handed to the transport only.
import nodemailer from 'nodemailer';
import type { SmtpSettings } from './settings.ts';
import type { Rendered } from './run-report.ts';

export class DeliveryError extends Error {}

export async function sendMail(smtp: SmtpSettings, password: string | undefined, to: string[], m: Rendered): Promise<{ messageId: string }> {
  const transport = nodemailer.createTransport({
    host: smtp.host, port: smtp.port,
    secure: smtp.security === 'tls', requireTLS: smtp.security === 'starttls', ignoreTLS: smtp.security === 'none',
    ...(smtp.username ? { auth: { user: smtp.username, pass: password ?? '' } } : {}),
    connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000,
  });
  try {
    const info = await transport.sendMail({ from: smtp.from, to, subject: m.subject, html: m.html, text: m.text });
    return { messageId: String(info.messageId) };
  } catch (e) {
    const err = e as Error & { code?: string; responseCode?: number };
    const hint = err.code === 'EAUTH' ? 'check the SMTP user name and password'
      : err.code === 'ECONNECTION' || err.code === 'ESOCKET' || err.code === 'ETIMEDOUT' ? `check that ${smtp.host}:${smtp.port} is reachable from the Stillpoint server and the security setting (${smtp.security}) matches the port`
        : err.responseCode && err.responseCode >= 500 ? 'the server refused the message: check the sender address and the recipients'
          : 'check the SMTP settings';
    throw new DeliveryError(`E-mail to ${to.join(', ')} via ${smtp.host}:${smtp.port} failed: ${err.message} (${hint}).`);
  } finally {
    transport.close();
  }
}

/** POSTs JSON; `text` makes it show in Slack/Mattermost/Rocket.Chat/Teams incoming webhooks as is. */
export async function postWebhook(url: string, payload: Record<string, unknown>): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload), signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new DeliveryError(`Webhook ${new URL(url).origin} could not be reached: ${(e as Error).message} (check the address and that the Stillpoint server may connect to it).`);
  }
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).slice(0, 200);
    throw new DeliveryError(`Webhook ${new URL(url).origin} answered ${res.status}${body ? `: ${body}` : ''} (check the webhook address; chat tools revoke them).`);
  }
  await res.body?.cancel().catch(() => undefined);
}
