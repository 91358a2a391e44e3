// Who this Stillpoint node is: a random id made on first start and kept in <dataDir>/node.json,
// with the host name for people reading vCenter. Journals, snapshot descriptions and the node's
// heartbeat in vCenter carry the id, so several nodes sharing one vCenter never take each other's
// snapshots for leftovers (backend/sources/snapshot/ownership.ts).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readJson, writeFileDurable } from '../common/durable.ts';

export interface NodeIdentity {
  /** Random UUID, stable for the life of the data folder. */
  id: string;
  /** Host name when the id was made or last seen (display only). */
  name: string;
  createdAt: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function nodeIdentityFile(dataDir: string): string { return join(dataDir, 'node.json'); }

/** Reads the node identity of a data folder, creating it on first start. The host name follows the host. */
export function loadOrCreateNodeIdentity(dataDir: string): NodeIdentity {
  const file = nodeIdentityFile(dataDir);
  const found = readJson<Partial<NodeIdentity>>(file);
  if (found && found.id !== undefined && !UUID.test(found.id)) {
    throw new Error(`${file} holds no valid node id (${JSON.stringify(found.id)}); remove the file to make a new one (only if no backup of this node is running).`);
  }
  const name = hostname();
  if (found?.id) {
    const node: NodeIdentity = { id: found.id, name, createdAt: found.createdAt ?? new Date().toISOString() };
    if (found.name !== name || !found.createdAt) writeFileDurable(file, JSON.stringify(node, null, 2) + '\n');
    return node;
  }
  const node: NodeIdentity = { id: randomUUID(), name, createdAt: new Date().toISOString() };
  writeFileDurable(file, JSON.stringify(node, null, 2) + '\n');
  return node;
}
