// Connection, TLS pinning, sessions and error mapping against the lab vCenter.
import assert from 'node:assert/strict';
import { createServer as createNetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import {
  InvalidLoginError, ManagedObjectNotFoundError, mor, NotAuthenticatedError, ThumbprintMismatchError, VCenterUnreachableError,
  VimClient, VSphere, VSphereError, certThumbprint, fetchThumbprint,
} from '../../backend/vsphere/index.ts';
import { startLab, type Lab } from '../lab/lab.ts';
import { connect, selfSignedCert } from './helpers.ts';
import { within } from '../helpers/wait.ts';

describe('vsphere: connection and session', () => {
  let lab: Lab;
  before(async () => { lab = await startLab({ images: false }); });
  after(async () => { await lab?.stop(); });

  it('connects with the pinned thumbprint and logs in', async () => {
    const vs = await connect(lab);
    try {
      assert.equal(vs.about.apiType, 'VirtualCenter');
      assert.equal(vs.session.user?.userName.toLowerCase().includes('administrator'), true);
      assert.ok(vs.client.sessionCookie?.startsWith('vmware_soap_session='));
      const t = await vs.session.currentTime();
      assert.ok(t instanceof Date && Math.abs(t.getTime() - Date.now()) < 60_000);
    } finally {
      await vs.close();
    }
  });

  it('the lab thumbprint is the SHA-256 of its certificate', async () => {
    const u = new URL(lab.url);
    const tp = await fetchThumbprint(u.hostname, Number(u.port));
    assert.equal(tp.sha256, lab.thumbprint.toUpperCase());
    assert.equal(certThumbprint(lab.certPem), tp.sha256);
  });

  it('accepts CA verification with the lab certificate as CA, and refuses the self-signed cert without it', async () => {
    const c = await VimClient.connect({ url: lab.url, ca: lab.certPem });
    assert.equal(c.serviceContent.about.apiType, 'VirtualCenter');
    c.agent.destroy();
    await assert.rejects(VimClient.connect({ url: lab.url }), (err: Error) => {
      assert.ok(!(err instanceof ThumbprintMismatchError));
      assert.match(String((err as { code?: string }).code ?? err.message), /SELF_SIGNED|self.signed|certificate/i);
      return true;
    });
  });

  it('refuses a wrong thumbprint and names both', async () => {
    const wrong = 'AA:'.repeat(31) + 'AA';
    await assert.rejects(VSphere.connect({ url: lab.url, thumbprint: wrong, username: lab.username, password: lab.password }),
      (err: unknown) => {
        assert.ok(err instanceof ThumbprintMismatchError);
        assert.equal(err.expected, wrong);
        assert.equal(err.actual, lab.thumbprint.toUpperCase());
        assert.match(err.message, new RegExp(wrong));
        assert.ok(err.hint.length > 0);
        return true;
      });
  });

  it('sends nothing to a server whose certificate does not match', async () => {
    const { key, cert } = selfSignedCert();
    let received = 0;
    let connections = 0;
    const closed: Promise<void>[] = []; // the server side of each connection, closed
    const server = createTlsServer({ key, cert }, (sock) => {
      sock.on('data', (d) => { received += d.length; });
      sock.on('error', () => undefined);
    });
    server.on('connection', (raw) => { connections++; closed.push(new Promise((r) => raw.once('close', () => r()))); });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await assert.rejects(VimClient.connect({ url: `https://127.0.0.1:${port}/sdk`, thumbprint: lab.thumbprint }), ThumbprintMismatchError);
      // Once the server's end of the connection has closed, every byte the client sent has been counted.
      await within('the server side of the connection to close', Promise.all(closed), 10_000);
      assert.equal(connections, 1, 'the TLS handshake happened');
      assert.equal(received, 0, 'no HTTP request bytes reached the server');
    } finally {
      server.close();
    }
  });

  it('wrong password → InvalidLogin with a hint', async () => {
    await assert.rejects(VSphere.connect({ url: lab.url, thumbprint: lab.thumbprint, username: lab.username, password: 'wrong' }),
      (err: unknown) => {
        assert.ok(err instanceof InvalidLoginError);
        assert.equal(err.fault, 'InvalidLogin');
        assert.match(err.hint, /user name and password/);
        return true;
      });
  });

  it('unreachable vCenter → VCenterUnreachable naming the URL', async () => {
    const srv = createNetServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise((r) => srv.close(r));
    const url = `https://127.0.0.1:${port}/sdk`;
    await assert.rejects(VSphere.connect({ url, thumbprint: lab.thumbprint, username: 'x', password: 'y' }), (err: unknown) => {
      assert.ok(err instanceof VCenterUnreachableError);
      assert.equal(err.code, 'ECONNREFUSED');
      assert.match(err.message, new RegExp(`vCenter unreachable at ${url.replace(/[.]/g, '\\.')}`));
      return true;
    });
  });

  it('a call that times out → VCenterUnreachable (timed out)', async () => {
    const { key, cert } = selfSignedCert();
    const server = createTlsServer({ key, cert }, (sock) => { sock.on('error', () => undefined); /* never answers */ });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      await assert.rejects(VimClient.connect({ url: `https://127.0.0.1:${port}/sdk`, thumbprint: certThumbprint(cert), timeoutMs: 300 }),
        (err: unknown) => err instanceof VCenterUnreachableError && /timed out/.test(err.message));
    } finally {
      server.close();
    }
  });

  it('logs in again transparently after the session expired', async () => {
    const vs = await connect(lab);
    try {
      const before = vs.session.user?.key;
      assert.equal((await vs.inventory.vms()).length > 0, true);
      const r = await lab.control.expireSessions();
      assert.ok(r);
      const vms = await vs.inventory.vms();
      assert.ok(vms.length > 0);
      assert.notEqual(vs.session.user?.key, before, 'a new session was created');
    } finally {
      await vs.close();
    }
  });

  it('keep-alive pings the session periodically and speaks the server API version', async () => {
    const vs = await connect(lab, { keepAliveMs: 100 });
    try {
      const sent: string[] = [];
      const twoPings = new Promise<void>((resolve) => vs.client.soap.on('request', (xml: string) => {
        sent.push(xml);
        if (sent.filter((x) => x.includes('CurrentTime')).length >= 2) resolve();
      }));
      // Nothing else calls vCenter here: two CurrentTime calls can only be the keep-alive's.
      await within('two keep-alive calls (every 100 ms)', twoPings, 5_000).catch((e: Error) => assert.fail(`${e.message}; calls sent: ${sent.length}`));
      assert.ok(sent.filter((x) => x.includes('CurrentTime')).length >= 2, `keep-alive calls: ${sent.length}`);
      assert.equal(vs.client.http.soapAction, `urn:vim25/${vs.about.apiVersion}`);
    } finally {
      await vs.close();
    }
  });

  it('clone ticket → a second, independent session (the plugin session bridge)', async () => {
    const vs = await connect(lab);
    try {
      const ticket = await vs.acquireCloneTicket();
      assert.ok(ticket.length > 8);
      const clone = await VSphere.fromCloneTicket({ url: lab.url, thumbprint: lab.thumbprint, ticket });
      try {
        assert.equal(clone.session.user?.userName, vs.session.user?.userName);
        assert.notEqual(clone.client.sessionCookie, vs.client.sessionCookie);
        assert.ok((await clone.inventory.vms()).length > 0);
      } finally {
        await clone.close();
      }
      // A ticket is single-use.
      await assert.rejects(VSphere.fromCloneTicket({ url: lab.url, thumbprint: lab.thumbprint, ticket }));
    } finally {
      await vs.close();
    }
  });

  it('plugin session bridge: vSphere Client session token → clone ticket → our session, renewed after expiry', async () => {
    const token = await lab.control.uiSessionToken();
    const vs = await VSphere.fromUiSessionToken({ url: lab.url, thumbprint: lab.thumbprint, sessionToken: token, vcGuid: lab.vcGuid });
    try {
      assert.equal(vs.session.user?.userName, lab.username);
      assert.ok((await vs.inventory.vms()).length > 0);
      const before = vs.session.user?.key;
      await lab.control.expireSessions();
      // The cloned session and the UI session behind the token are both gone: renewing must fail clearly.
      await assert.rejects(vs.inventory.vms(), (err: unknown) => err instanceof VSphereError && err.fault === 'NotAuthenticated' && /reload/.test(err.hint));
      assert.equal(vs.session.user?.key, before);
    } finally {
      await vs.close();
    }
    await assert.rejects(VSphere.fromUiSessionToken({ url: lab.url, thumbprint: lab.thumbprint, sessionToken: 'bogus' }),
      (err: unknown) => err instanceof VSphereError && err.fault === 'NotAuthenticated');
  });

  it('generic service ticket for a host URL', async () => {
    const vs = await connect(lab);
    try {
      const t = await vs.session.acquireGenericServiceTicket(`${lab.url.replace(/\/sdk$/, '')}/folder/x?dsName=y`);
      assert.ok(t.id.length > 8);
    } finally {
      await vs.close();
    }
  });

  it('after logout, calls fail with NotAuthenticated (no silent re-login)', async () => {
    const vs = await connect(lab);
    await vs.session.logout();
    await assert.rejects(vs.inventory.vms(), NotAuthenticatedError);
    vs.client.agent.destroy();
  });

  it('unknown moref → ManagedObjectNotFound with a hint', async () => {
    const vs = await connect(lab);
    try {
      await assert.rejects(vs.inventory.vm(mor('VirtualMachine', 'vm-999999')), (err: unknown) => {
        assert.ok(err instanceof ManagedObjectNotFoundError, String(err));
        assert.equal(err.fault, 'ManagedObjectNotFound');
        assert.match(err.hint, /deleted|id is wrong/);
        return true;
      });
      await assert.rejects(vs.snapshots.tree(mor('VirtualMachine', 'vm-999999')), ManagedObjectNotFoundError);
    } finally {
      await vs.close();
    }
  });
});
