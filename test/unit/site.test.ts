// Site-qualified ids (backend/model/site.ts): "<site>:<moref>", where the primary site may leave its
// prefix out. The API, CLI and UI pass these ids around; a malformed one must not be taken for a
// VM of some site.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSiteRef, isValidSiteId, parseSiteRef } from '../../backend/model/site.ts';

test('site ids: 1-32 lower-case letters, digits and "-", starting with a letter', () => {
  for (const id of ['prod', 'dr', 'dr-east', 'a', 'site2', 'a'.repeat(32)]) assert.equal(isValidSiteId(id), true, id);
  for (const id of ['', 'Prod', '1dr', '-dr', 'dr_east', 'dr east', 'dr:1', 'dré', 'a'.repeat(33)]) assert.equal(isValidSiteId(id), false, id);
});

test('a bare moref is the primary site\'s; a qualified one names its site', () => {
  assert.deepEqual(parseSiteRef('vm-42', 'prod'), { site: 'prod', moref: 'vm-42' });
  assert.deepEqual(parseSiteRef('dr:vm-42', 'prod'), { site: 'dr', moref: 'vm-42' });
  assert.deepEqual(parseSiteRef('prod:vm-42', 'prod'), { site: 'prod', moref: 'vm-42' }, 'the primary may be named too');
  for (const moref of ['host-10', 'datastore-11', 'group-v3', 'domain-c7', 'resgroup-8', 'dvportgroup-20', 'network-12', `v${'x'.repeat(79)}`]) {
    assert.deepEqual(parseSiteRef(`dr:${moref}`, 'prod'), { site: 'dr', moref }, moref);
  }
});

test('malformed ids name no object', () => {
  for (const text of ['', ':vm-42', 'dr:', 'DR:vm-42', 'dr east:vm-42', '1dr:vm-42', 'dr:42', '42', 'dr:vm-42:x', 'dr:vm 42', 'vm-42 ', `dr:v${'x'.repeat(80)}`, 'dr:-vm']) {
    assert.equal(parseSiteRef(text, 'prod'), undefined, JSON.stringify(text));
  }
});

test('formatting leaves the primary site out, and parsing gives back the same reference', () => {
  assert.equal(formatSiteRef({ site: 'prod', moref: 'vm-42' }, 'prod'), 'vm-42');
  assert.equal(formatSiteRef({ site: 'dr', moref: 'vm-42' }, 'prod'), 'dr:vm-42');
  for (const ref of [{ site: 'prod', moref: 'vm-42' }, { site: 'dr', moref: 'vm-42' }, { site: 'dr-east', moref: 'datastore-7' }]) {
    assert.deepEqual(parseSiteRef(formatSiteRef(ref, 'prod'), 'prod'), ref);
  }
});
