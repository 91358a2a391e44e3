// Runs a lab vCenter in the foreground for humans: prints how to connect, Ctrl-C stops it.
// Usage: node test/lab/start.ts [--inventory standard|large] [--vms N] [--disk-mib N] [--blank] [--trace]
import { parseArgs } from 'node:util';
import { startLab } from './lab.ts';

const { values } = parseArgs({
  options: {
    inventory: { type: 'string', default: 'standard' },
    vms: { type: 'string', default: '2000' },
    'disk-mib': { type: 'string', default: '64' },
    blank: { type: 'boolean', default: false },
    trace: { type: 'boolean', default: false },
  },
});
if (values.inventory !== 'standard' && values.inventory !== 'large') {
  console.error('--inventory must be standard or large');
  process.exit(2);
}

const lab = await startLab({
  inventory: values.inventory,
  vms: Number(values.vms),
  diskMiB: Number(values['disk-mib']),
  images: !values.blank,
  trace: values.trace,
});
const vms = await lab.control.vms();
console.log(`Lab vCenter running (${values.inventory} inventory, ${Object.keys(vms).length} VMs)
  SDK URL:     ${lab.sdkUrl}
  Thumbprint:  ${lab.thumbprint}
  User:        ${lab.username}
  Password:    ${lab.password}
  Guest user:  ${lab.guestUsername} / ${lab.guestPassword}
  vCenter GUID ${lab.vcGuid}
  Data dir:    ${lab.dataDir}
  Control:     ${lab.url}/lab/... with header x-lab-token: ${lab.controlToken}
  govc:        GOVC_URL='${lab.sdkUrl}' GOVC_USERNAME='${lab.username}' GOVC_PASSWORD='${lab.password}' GOVC_TLS_CA_CERTS=<certPem file>
Press Ctrl-C to stop.`);

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping…');
    void lab.stop().then(() => process.exit(0));
  });
}
setInterval(() => {}, 1 << 30); // keep running until a signal arrives
