// A vCenter that is down or refuses our credentials must not take the service down: health says
// what is wrong, API calls answer 503/401 with a message, and the service keeps serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { loadConfig } from '../../backend/config.ts';
import { startService } from '../../backend/service.ts';
import { startLab } from '../lab/lab.ts';
import { connectToLab } from '../helpers/lab-vsphere.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

test('unreachable vCenter: service starts, health is degraded with a clear message, login gets 503', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-test-'));
  const port = await freePort();
  const config = loadConfig({}, {
    dataDir, listen: { host: '127.0.0.1', port: 0 },
    vcenter: { url: `https://127.0.0.1:${port}/sdk`, username: 'u', password: 'p', thumbprint: 'AA:'.repeat(31) + 'AA', wsdl: 'builtin' },
  });
  const service = await startService(config);
  try {
    const get = (path: string, body?: unknown) => new Promise<{ status: number; body: { status?: string; message?: string; vcenter?: { connected: boolean; message?: string } } }>((resolve, reject) => {
      const req = request(service.url + path, { method: body ? 'POST' : 'GET', ca: service.cert, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(s) }));
      });
      req.on('error', reject);
      if (body) req.write(JSON.stringify(body));
      req.end();
    });
    const h = await get('/api/health');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'degraded');
    assert.equal(h.body.vcenter!.connected, false);
    assert.match(h.body.vcenter!.message!, /unreachable|refused|connect/i);
    const l = await get('/api/session/login', { username: 'u', password: 'p' });
    assert.equal(l.status, 503);
    assert.match(l.body.message!, /vCenter/);
    assert.equal((await get('/api/health')).status, 200);
  } finally {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('clone-ticket mode: the service runs on a session borrowed with a clone ticket', async () => {
  const lab = await startLab({ images: false });
  const dataDir = mkdtempSync(join(tmpdir(), 'stillpoint-test-'));
  const owner = await connectToLab(lab);
  try {
    const ticket = await owner.acquireCloneTicket();
    const config = loadConfig({ STILLPOINT_VCENTER_CLONE_TICKET: ticket }, {
      dataDir, listen: { host: '127.0.0.1', port: 0 }, vcenter: { url: lab.sdkUrl, thumbprint: lab.thumbprint, wsdl: 'builtin' },
    });
    const service = await startService(config);
    try {
      const h = await new Promise<{ status: string; vcenter: { connected: boolean } }>((resolve, reject) => {
        request(service.url + '/api/health', { ca: service.cert }, (res) => {
          let s = '';
          res.on('data', (c) => (s += c));
          res.on('end', () => resolve(JSON.parse(s)));
        }).on('error', reject).end();
      });
      assert.equal(h.vcenter.connected, true);
      assert.equal(h.status, 'ok');
    } finally {
      await service.close();
    }
  } finally {
    await owner.close();
    await lab.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
