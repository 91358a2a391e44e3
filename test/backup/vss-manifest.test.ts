// The VSS manifest VMware Tools leaves next to a quiesced Windows snapshot is kept whole: writers
// with their ids, components with logical paths and types, and the files (databases, logs, plain
// file lists) item restore looks for. Parsed from documents built here, and read back from the lab.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { classify, parseVssManifest } from '../../backend/sources/snapshot/consistency.ts';
import { SnapshotSession } from '../../backend/sources/snapshot/session.ts';
import { NTDS_WRITER_ID, EXCHANGE_WRITER_ID, type VssManifest } from '../../backend/model/vss.ts';
import type { MoRef } from '../../backend/vsphere/index.ts';
import { DEFAULT_SETTINGS, startBackupEnv, type BackupEnv } from '../helpers/backup-env.ts';

/** A ZIP archive with stored entries (what readZip needs). */
function zip(entries: Record<string, Buffer | string>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(entries)) {
    const data = typeof content === 'string' ? Buffer.from(content) : content;
    const n = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(n.length, 26);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0); cd.writeUInt16LE(20, 4); cd.writeUInt16LE(20, 6); cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(data.length, 20); cd.writeUInt32LE(data.length, 24); cd.writeUInt16LE(n.length, 28); cd.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    central.push(cd, n);
    offset += 30 + n.length + data.length;
  }
  const cdBuf = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(central.length / 2, 8); eocd.writeUInt16LE(central.length / 2, 10);
  eocd.writeUInt32LE(cdBuf.length, 12); eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cdBuf, eocd]);
}

const NTDS_DOC = `<?xml version="1.0"?>
<WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" version="1.1">
  <IDENTIFICATION writerId="{B2014C9E-8711-4C5C-A5A9-3CF384484757}" instanceId="{11111111-2222-3333-4444-555555555555}"
                  friendlyName="NTDS" usage="SYSTEM_SERVICE" dataSource="TRANSACTION_DB"/>
  <!-- the components -->
  <BACKUP_LOCATIONS>
    <DATABASE logicalPath="C:_Windows_NTDS" componentName="ntds" caption="" restoreMetadata="no"
              notifyOnBackupComplete="no" selectable="no" selectableForRestore="no" componentFlags="3">
      <DATABASE_FILES path="C:\\Windows\\NTDS" filespec="ntds.dit" filespecBackupType="3855"/>
      <DATABASE_LOGFILES path="C:\\Windows\\NTDS" filespec="edb*.log" filespecBackupType="3855"/>
      <DATABASE_LOGFILES path="C:\\Windows\\NTDS" filespec="edb.chk" filespecBackupType="3855"/>
    </DATABASE>
  </BACKUP_LOCATIONS>
  <RESTORE_METHOD method="RESTORE_IF_CAN_REPLACE" writerRestore="always" rebootRequired="no"/>
</WRITER_METADATA>`;

const SYSTEM_DOC = `<?xml version="1.0"?><WRITER_METADATA xmlns="x-schema:#VssWriterMetadataInfo" version="1.1"><IDENTIFICATION writerId="{e8132975-6f93-4464-a53e-1050253ae220}" instanceId="{aaaaaaaa-0000-0000-0000-000000000001}" friendlyName="System Writer" usage="BOOTABLE_SYSTEM_STATE" dataSource="OTHER"/><BACKUP_LOCATIONS><FILE_GROUP logicalPath="" componentName="System Files" caption="" restoreMetadata="no" notifyOnBackupComplete="no" selectable="yes" selectableForRestore="yes" componentFlags="0"><FILE_LIST path="C:\\Windows\\System32" filespec="*" recursive="yes" filespecBackupType="3855"/><FILE_LIST path="C:\\Program Files\\R&amp;D Tools" filespec="*.exe" recursive="no"/></FILE_GROUP></BACKUP_LOCATIONS></WRITER_METADATA>`;

const BC_DOC = `<?xml version="1.0"?>
<BACKUP_COMPONENTS xmlns="x-schema:#VssComponentMetadata" version="1.2" bootableSystemStateBackup="yes" selectComponents="yes" backupType="FULL" partialFileSupport="no" snapshotSetId="{0}" context="ctx_auto">
  <WRITER_COMPONENTS instanceId="{11111111-2222-3333-4444-555555555555}" writerId="{b2014c9e-8711-4c5c-a5a9-3cf384484757}">
    <COMPONENT logicalPath="C:_Windows_NTDS" componentName="ntds" componentType="database" backupSucceeded="yes"/>
  </WRITER_COMPONENTS>
  <WRITER_COMPONENTS instanceId="{aaaaaaaa-0000-0000-0000-000000000001}" writerId="{e8132975-6f93-4464-a53e-1050253ae220}">
    <COMPONENT logicalPath="" componentName="System Files" componentType="filegroup"/>
  </WRITER_COMPONENTS>
</BACKUP_COMPONENTS>`;

const utf16 = (s: string) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(s, 'utf16le')]);

describe('VSS manifest parser', () => {
  test('writer metadata documents are kept whole: ids, components, database, log and plain files', () => {
    // The NTDS document in UTF-16 with a byte-order mark, as VSS hands it out.
    const m = parseVssManifest(zip({ 'backupComponents.xml': BC_DOC, 'writer0.xml': utf16(NTDS_DOC), 'writer1.xml': SYSTEM_DOC }));
    const expected: VssManifest = {
      backupType: 'FULL',
      writers: [
        {
          writerId: NTDS_WRITER_ID, instanceId: '{11111111-2222-3333-4444-555555555555}', name: 'NTDS',
          components: [{
            name: 'ntds', logicalPath: 'C:_Windows_NTDS', type: 'database', selectable: false,
            files: [
              { path: 'C:\\Windows\\NTDS', filespec: 'ntds.dit', recursive: false, role: 'database' },
              { path: 'C:\\Windows\\NTDS', filespec: 'edb*.log', recursive: false, role: 'log' },
              { path: 'C:\\Windows\\NTDS', filespec: 'edb.chk', recursive: false, role: 'log' },
            ],
          }],
        },
        {
          writerId: '{e8132975-6f93-4464-a53e-1050253ae220}', instanceId: '{aaaaaaaa-0000-0000-0000-000000000001}', name: 'System Writer',
          components: [{
            name: 'System Files', type: 'filegroup', selectable: true,
            files: [
              { path: 'C:\\Windows\\System32', filespec: '*', recursive: true, role: 'file' },
              { path: 'C:\\Program Files\\R&D Tools', filespec: '*.exe', recursive: false, role: 'file' },
            ],
          }],
        },
      ],
    };
    assert.deepEqual(m, expected);
    assert.deepEqual(classify({ quiesced: true, guestFamily: 'windows', preFreezeSucceeded: false, vss: m }),
      { consistency: 'application', reason: 'VSS writers took part: NTDS, System Writer' });
  });

  test('only the backup components document: writers and components from it, names of known writers filled in', () => {
    const bc = BC_DOC.replace('</BACKUP_COMPONENTS>', `<WRITER_COMPONENTS instanceId="{9}" writerId="${EXCHANGE_WRITER_ID}"><COMPONENT logicalPath="Microsoft Exchange Server\\Microsoft Information Store\\MAIL01" componentName="2f3e4d5c" componentType="database"/></WRITER_COMPONENTS></BACKUP_COMPONENTS>`);
    const m = parseVssManifest(zip({ 'backupComponents.xml': bc }));
    assert.deepEqual(m.writers.map((w) => [w.name, w.writerId, w.components.map((c) => [c.name, c.type, c.logicalPath ?? ''])]), [
      ['NTDS', NTDS_WRITER_ID, [['ntds', 'database', 'C:_Windows_NTDS']]],
      ['System Writer', '{e8132975-6f93-4464-a53e-1050253ae220}', [['System Files', 'filegroup', '']]],
      ['Microsoft Exchange Writer', EXCHANGE_WRITER_ID, [['2f3e4d5c', 'database', 'Microsoft Exchange Server\\Microsoft Information Store\\MAIL01']]],
    ]);
  });

  test('no writer took part: filesystem-consistent, with the reasons as before', () => {
    const none = parseVssManifest(zip({ 'backupComponents.xml': '<BACKUP_COMPONENTS backupType="COPY"/>' }));
    assert.deepEqual(none, { backupType: 'COPY', writers: [] });
    assert.deepEqual(classify({ quiesced: true, guestFamily: 'windows', preFreezeSucceeded: false, vss: none }),
      { consistency: 'filesystem', reason: 'quiesced, but no VSS writer took part' });
    assert.throws(() => parseVssManifest(zip({ 'other.xml': '<x/>' })), /no backupComponents.xml/);
  });
});

describe('VSS manifest from the lab', () => {
  let env: BackupEnv;
  before(async () => { env = await startBackupEnv(); });
  after(async () => { await env?.close(); });

  const open = async (vm: MoRef) => SnapshotSession.open({ vs: env.vs, journal: env.journal }, {
    vm: await env.vs.inventory.vm(vm), guestFamily: 'windows', settings: DEFAULT_SETTINGS, purpose: 'backup',
  });

  test('win-app01 (SQL Server): writers, components and database/log files come back with the session', async () => {
    const session = await open({ type: 'VirtualMachine', value: await env.vmId('win-app01') });
    try {
      assert.equal(session.consistency, 'application');
      assert.equal(session.reason, 'VSS writers took part: System Writer, Registry Writer, WMI Writer, SqlServerWriter');
      const vss = session.vss!;
      assert.equal(vss.backupType, 'COPY');
      const sql = vss.writers.find((w) => w.name === 'SqlServerWriter')!;
      assert.equal(sql.writerId, '{a65faa63-5ea8-4ebc-9dbd-a0c4db26912a}');
      assert.ok(sql.instanceId);
      assert.deepEqual(sql.components.map((c) => [c.name, c.type, c.logicalPath]), [
        ['master', 'database', 'WIN-APP01'], ['model', 'database', 'WIN-APP01'], ['msdb', 'database', 'WIN-APP01'], ['AppDb', 'database', 'WIN-APP01'],
      ]);
      const data = 'C:\\Program Files\\Microsoft SQL Server\\MSSQL15.MSSQLSERVER\\MSSQL\\DATA';
      assert.deepEqual(sql.components[0]!.files, [
        { path: data, filespec: 'master.mdf', recursive: false, role: 'database' },
        { path: data, filespec: 'mastlog.ldf', recursive: false, role: 'log' },
      ]);
      assert.deepEqual(sql.components[3]!.files.map((f) => `${f.role} ${f.path}\\${f.filespec}`), ['database D:\\SQLData\\AppDb.mdf', 'log D:\\SQLLogs\\AppDb_log.ldf']);
      const system = vss.writers.find((w) => w.name === 'System Writer')!;
      assert.deepEqual(system.components[0]!.files[0], { path: 'C:\\Windows\\System32', filespec: '*', recursive: true, role: 'file' });
      assert.equal(system.components[0]!.type, 'filegroup');
    } finally {
      await session.close();
    }
  });

  test('a domain controller reports NTDS (ntds.dit and its logs), a mail server Exchange', async () => {
    const [dc] = await env.vs.inventory.datacenters();
    const [cluster] = await env.vs.inventory.clusters();
    const { resourcePool } = await env.vs.pc.retrieveOne<{ resourcePool: MoRef }>(cluster!.ref, ['resourcePool']);
    const ds = (await env.vs.inventory.datastores())[0]!;
    const create = async (name: string) => {
      const ref = await env.vs.vms.create({
        folder: dc!.vmFolder!, pool: resourcePool,
        config: {
          name, guestId: 'windows2019srv_64Guest', numCPUs: 1, memoryMB: 1024, files: { vmPathName: `[${ds.name}]` },
          deviceChange: [
            { operation: 'add', device: { _type: 'ParaVirtualSCSIController', key: -100, busNumber: 0, sharedBus: 'noSharing' } },
            {
              operation: 'add', fileOperation: 'create',
              device: {
                _type: 'VirtualDisk', key: -101, controllerKey: -100, unitNumber: 0, capacityInKB: 1024,
                backing: { _type: 'VirtualDiskFlatVer2BackingInfo', fileName: `[${ds.name}] ${name}/${name}.vmdk`, diskMode: 'persistent', thinProvisioned: true },
              },
            },
          ],
        },
      });
      await env.vs.vms.powerOn(ref);
      return ref;
    };

    const dcSession = await open(await create('dc01'));
    try {
      assert.equal(dcSession.consistency, 'application', dcSession.reason);
      const ntds = dcSession.vss!.writers.find((w) => w.writerId === NTDS_WRITER_ID)!;
      assert.equal(ntds.name, 'NTDS');
      assert.deepEqual(ntds.components, [{
        name: 'ntds', logicalPath: 'C:_Windows_NTDS', type: 'database', selectable: false,
        files: [
          { path: 'C:\\Windows\\NTDS', filespec: 'ntds.dit', recursive: false, role: 'database' },
          { path: 'C:\\Windows\\NTDS', filespec: '*.log', recursive: false, role: 'log' },
        ],
      }]);
      assert.ok(!dcSession.vss!.writers.some((w) => w.name === 'SqlServerWriter' || w.writerId === EXCHANGE_WRITER_ID));
    } finally {
      await dcSession.close();
    }

    const mailSession = await open(await create('mail01'));
    try {
      const ex = mailSession.vss!.writers.find((w) => w.writerId === EXCHANGE_WRITER_ID)!;
      assert.equal(ex.name, 'Microsoft Exchange Writer');
      const db = ex.components[0]!;
      assert.equal(db.type, 'database');
      assert.equal(db.caption, 'Mailbox Database 0123456789');
      assert.equal(db.logicalPath, 'Microsoft Exchange Server\\Microsoft Information Store\\MAIL01');
      assert.deepEqual(db.files.map((f) => [f.role, f.filespec]), [['database', 'Mailbox Database 0123456789.edb'], ['log', 'E00*.log']]);
      assert.ok(!mailSession.vss!.writers.some((w) => w.writerId === NTDS_WRITER_ID));
    } finally {
      await mailSession.close();
    }
  });
});
