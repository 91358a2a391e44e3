// RPO compliance as the health view and the vCenter events grade it: age of the newest recovery point ÷
// the RPO target; met up to 1× inclusive, a warning over 1×, an error over 2× or without any point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rpoCompliance, rpoEventText } from '../../backend/replication/health.ts';

const now = new Date('2026-12-02T12:00:00.000Z');
const ago = (min: number) => new Date(now.getTime() - min * 60_000).toISOString();

test('levels at and around the 1× and 2× boundaries', () => {
  assert.deepEqual(rpoCompliance(ago(60), 60, now), { rpoMinutes: 60, ageMinutes: 60, ratio: 1, level: 'ok' });
  assert.equal(rpoCompliance(ago(61), 60, now).level, 'warning');
  assert.equal(rpoCompliance(ago(120), 60, now).level, 'warning');
  assert.equal(rpoCompliance(ago(121), 60, now).level, 'error');
  assert.deepEqual(rpoCompliance(undefined, 60, now), { rpoMinutes: 60, level: 'error' });
  // A point stamped a little in the future (clock skew between vCenter and the service) counts as just made.
  assert.deepEqual(rpoCompliance(ago(-2), 15, now), { rpoMinutes: 15, ageMinutes: 0, ratio: 0, level: 'ok' });
});

test('the event text says the replica, its source, the age, the ratio and what to do', () => {
  const c = rpoCompliance(ago(150), 60, now);
  assert.equal(rpoEventText({ name: 'db-replica', sourceName: 'db', compliance: c }),
    'Stillpoint RPO error: replica \'db-replica\' of VM \'db\': its newest recovery point is 2.5 h old, 2.5× the RPO of 60 min. ' +
    'Replication is not keeping up: check the replication job\'s last runs and run it now.');
  assert.equal(rpoEventText({ name: 'db-replica', sourceName: 'db', compliance: rpoCompliance(undefined, 60, now) }),
    'Stillpoint RPO error: replica \'db-replica\' of VM \'db\': it has no recovery point. Replication is not keeping up: check the replication job\'s last runs and run it now.');
  assert.match(rpoEventText({ name: 'db-replica', sourceName: 'db', compliance: rpoCompliance(ago(3 * 24 * 60), 24 * 60, now) }), /is 3 d old, 3× the RPO of 24 h\. /);
  assert.match(rpoEventText({ name: 'db-replica', sourceName: 'db', compliance: rpoCompliance(ago(10), 60, now) }), /^Stillpoint: RPO met again for replica 'db-replica' of VM 'db': its newest recovery point is 10 min old, 0\.17× the RPO of 60 min\.$/);
});
