// A minimal raw SOAP client for testing the lab vCenter itself: it sends vim25
// envelopes and picks values out of the XML with regular expressions. It knows
// nothing about vSphere beyond the envelope and the session cookie, so the lab's
// answers are checked as they are on the wire.
import https from 'node:https';
import type { Lab } from '../lab/lab.ts';

export interface SoapResponse {
  status: number;
  body: string;
  /** xsi:type of the fault detail (e.g. "ManagedObjectNotFound"), if the call failed. */
  fault?: string;
}

export interface Moref {
  type: string;
  value: string;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** `<name type="T">v</name>` */
export function ref(name: string, m: Moref): string {
  return `<${name} type="${m.type}">${esc(m.value)}</${name}>`;
}

/** Text of every `<tag …>text</tag>` (namespace prefixes ignored). */
export function all(xml: string, tag: string): string[] {
  const re = new RegExp(`<(?:[\\w-]+:)?${tag}(?:\\s[^>]*)?>([^<]*)</(?:[\\w-]+:)?${tag}>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]);
}

export function first(xml: string, tag: string): string | undefined {
  return all(xml, tag)[0];
}

export class Soap {
  private cookie = '';
  readonly lab: Lab;
  constructor(lab: Lab) {
    this.lab = lab;
  }

  /** Sends one call; `body` is the inner XML of <method xmlns="urn:vim25">, starting with _this. */
  call(method: string, body: string): Promise<SoapResponse> {
    const envelope = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><${method} xmlns="urn:vim25">${body}</${method}></soapenv:Body></soapenv:Envelope>`;
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL('/sdk', this.lab.url),
        {
          method: 'POST',
          ca: this.lab.certPem,
          agent: false,
          headers: {
            'content-type': 'text/xml; charset=utf-8',
            soapaction: 'urn:vim25/7.0',
            ...(this.cookie ? { cookie: this.cookie } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            const set = res.headers['set-cookie']?.find((c) => c.startsWith('vmware_soap_session='));
            if (set) this.cookie = set.split(';')[0];
            const fault = /<soapenv:Fault>/.test(text) ? /<detail>\s*<\w+\s[^>]*?(?:xsi|XMLSchema-instance):type="(\w+)"/.exec(text)?.[1] ?? 'unknown' : undefined;
            resolve({ status: res.statusCode ?? 0, body: text, fault });
          });
        },
      );
      req.on('error', reject);
      req.end(envelope);
    });
  }

  /** Like call, but throws on a SOAP fault. */
  async ok(method: string, body: string): Promise<string> {
    const r = await this.call(method, body);
    if (r.fault || r.status !== 200) throw new Error(`${method}: HTTP ${r.status} ${r.fault ?? ''}\n${r.body.slice(0, 2000)}`);
    return r.body;
  }

  get sessionCookie(): string {
    return this.cookie;
  }

  /** Logs in as the lab's administrator, or as another user. */
  async login(username = this.lab.username, password = this.lab.password): Promise<void> {
    await this.ok('Login', `${ref('_this', { type: 'SessionManager', value: 'SessionManager' })}<userName>${esc(username)}</userName><password>${esc(password)}</password>`);
  }

  /** Values of one property of one object (the raw <val> XML). */
  async property(obj: Moref, path: string): Promise<string> {
    const body = await this.ok(
      'RetrieveProperties',
      `${ref('_this', { type: 'PropertyCollector', value: 'propertyCollector' })}<specSet><propSet><type>${obj.type}</type><pathSet>${path}</pathSet></propSet><objectSet>${ref('obj', obj)}</objectSet></specSet>`,
    );
    return /<val[^>]*>([\s\S]*)<\/val>/.exec(body)?.[1] ?? '';
  }

  /** Every object of a type with the value of one property (raw <val> XML), via a container view. */
  async list(type: string, path: string): Promise<Map<string, string>> {
    const view = first(
      await this.ok(
        'CreateContainerView',
        `${ref('_this', { type: 'ViewManager', value: 'ViewManager' })}${ref('container', { type: 'Folder', value: 'group-d1' })}<type>${type}</type><recursive>true</recursive>`,
      ),
      'returnval',
    )!;
    const body = await this.ok(
      'RetrieveProperties',
      `${ref('_this', { type: 'PropertyCollector', value: 'propertyCollector' })}<specSet><propSet><type>${type}</type><pathSet>${path}</pathSet></propSet><objectSet>${ref('obj', { type: 'ContainerView', value: view })}<skip>true</skip><selectSet xsi:type="TraversalSpec"><name>v</name><type>ContainerView</type><path>view</path><skip>false</skip></selectSet></objectSet></specSet>`,
    );
    await this.ok('DestroyView', ref('_this', { type: 'ContainerView', value: view }));
    const out = new Map<string, string>();
    for (const m of body.matchAll(/<returnval><obj type="\w+">([^<]+)<\/obj>([\s\S]*?)<\/returnval>/g)) {
      out.set(m[1], /<val[^>]*>([\s\S]*)<\/val>/.exec(m[2])?.[1] ?? '');
    }
    return out;
  }

  /** Waits for a task to end; returns its state and, on error, the fault type. */
  async waitTask(task: string): Promise<{ state: string; fault?: string; result?: string }> {
    for (let i = 0; i < 200; i++) {
      const info = await this.property({ type: 'Task', value: task }, 'info');
      const state = first(info, 'state')!;
      if (state === 'success' || state === 'error') {
        const fault = /<error>[\s\S]*?<fault [^>]*?(?:xsi|XMLSchema-instance):type="(\w+)"/.exec(info)?.[1];
        const result = /<result[^>]*>([^<]*)<\/result>/.exec(info)?.[1];
        return { state, fault, result };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`task ${task} did not finish`);
  }

  /** Calls a *_Task method and waits for its task. */
  async task(method: string, body: string): Promise<{ state: string; fault?: string; result?: string }> {
    const task = first(await this.ok(method, body), 'returnval')!;
    return this.waitTask(task);
  }
}
