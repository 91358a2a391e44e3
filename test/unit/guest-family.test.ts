// The guest OS family decides how a VM is quiesced (VSS or scripts) and how pre-freeze/post-thaw
// scripts run in it (backend/model/guest.ts). Checked against vSphere guestId values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guestFamily } from '../../backend/model/guest.ts';

test('Windows guest ids are windows', () => {
  for (const id of ['windows2019srv_64Guest', 'windows2022srvNext_64Guest', 'windows9Server64Guest', 'windows11_64Guest', 'windows7_64Guest',
    'winNetEnterpriseGuest', 'win2000ServGuest', 'winLonghorn64Guest', 'WINDOWS2019SRV_64GUEST']) {
    assert.equal(guestFamily(id), 'windows', id);
  }
});

test('Linux distributions and generic Linux guest ids are linux', () => {
  for (const id of ['debian10_64Guest', 'debian12_64Guest', 'ubuntu64Guest', 'rhel9_64Guest', 'redhatGuest', 'centos8_64Guest', 'sles15_64Guest',
    'opensuse64Guest', 'oracleLinux8_64Guest', 'vmwarePhoton64Guest', 'coreos64Guest', 'rockylinux_64Guest', 'almalinux_64Guest',
    'amazonlinux2_64Guest', 'asianux8_64Guest', 'fedora64Guest', 'mandrivaGuest', 'turboLinux64Guest', 'other5xLinux64Guest',
    'other3xLinuxGuest', 'genericLinuxGuest']) {
    assert.equal(guestFamily(id), 'linux', id);
  }
});

test('everything else, and no guest id at all, is other', () => {
  for (const id of [undefined, '', 'otherGuest', 'otherGuest64', 'freebsd13_64Guest', 'solaris11_64Guest', 'darwin21_64Guest',
    'vmkernel8Guest', 'dosGuest', 'os2Guest', 'netware6Guest', 'unixWare7Guest']) {
    assert.equal(guestFamily(id), 'other', String(id));
  }
});
