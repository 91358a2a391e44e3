// wsdl: 'server' — the client loads the WSDL from the vCenter's /sdk/vimService.wsdl (with its imports) over
// the same pinned connection. The lab serves no WSDL, so a small HTTPS front serves the files (as vCenter
// does) and forwards SOAP calls to the lab.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:https';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { certThumbprint, VSphere } from '../../backend/vsphere/index.ts';
import { startLab, type Lab } from '../lab/lab.ts';
import { selfSignedCert } from './helpers.ts';

const wsdlDir = join(dirname(fileURLToPath(import.meta.url)), '../../backend/vsphere/wsdl');

describe('vsphere: WSDL from the server', () => {
  let lab: Lab;
  let front: ReturnType<typeof createServer>;
  let url: string;
  let thumbprint: string;
  const fetched: string[] = [];
  before(async () => {
    lab = await startLab({ images: false });
    const { key, cert } = selfSignedCert();
    thumbprint = certThumbprint(cert);
    front = createServer({ key, cert }, (req, res) => {
      if (req.method === 'GET' && req.url?.startsWith('/sdk/') && req.url.endsWith('.wsdl')) {
        fetched.push(req.url);
        res.end(readFileSync(join(wsdlDir, req.url.slice(5))));
        return;
      }
      const fwd = request(`${lab.url}${req.url}`, { method: req.method, headers: req.headers, ca: lab.certPem }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(fwd);
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
    url = `https://127.0.0.1:${(front.address() as { port: number }).port}/sdk`;
  });
  after(async () => {
    front?.close();
    await lab?.stop();
  });

  it('loads vimService.wsdl + vim.wsdl from /sdk and works like the builtin subset', async () => {
    const vs = await VSphere.connect({ url, thumbprint, username: lab.username, password: lab.password, wsdl: 'server' });
    try {
      assert.deepEqual(fetched.sort(), ['/sdk/vim.wsdl', '/sdk/vimService.wsdl']);
      const vms = await vs.inventory.vms();
      assert.ok(vms.length >= 4);
      assert.ok(vms.some((v) => v.disks.length > 0 && v.disks[0]!.fileName.startsWith('[')));
    } finally {
      await vs.close();
    }
  });
});
