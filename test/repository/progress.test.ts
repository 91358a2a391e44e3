// The CLI progress bar: draws on a TTY (throttled, clears on done), prints nothing otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressBar, formatBytes } from '../../backend/cli/progress.ts';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns: 100, write: (s: string) => { writes.push(s); return true; } } as unknown as NodeJS.WriteStream };
}

test('progress bar: TTY draws a bar with percent/bytes and clears; non-TTY prints nothing', () => {
  const tty = fakeStream(true);
  const bar = progressBar('backup disk.img', { stream: tty.stream });
  bar.update(0, 4 * 1024 ** 3);
  for (let i = 1; i <= 1000; i++) bar.update(i * 1024 * 1024, 4 * 1024 ** 3); // throttled to ≤10 draws/s
  bar.update(4 * 1024 ** 3, 4 * 1024 ** 3); // the final state is always drawn
  assert.ok(tty.writes.length >= 2 && tty.writes.length < 50, `${tty.writes.length} draws`);
  assert.match(tty.writes[0], /^\rbackup disk\.img \[-+\]\s+0% 0 B\/4\.00 GiB/);
  assert.match(tty.writes.at(-1)!, /\[#+\] 100% 4\.00 GiB\/4\.00 GiB/);
  assert.ok(tty.writes.every((w) => w.length < 110), 'fits the terminal width');
  bar.done();
  assert.equal(tty.writes.at(-1), '\r\x1b[K');

  const pipe = fakeStream(false);
  const quiet = progressBar('restore', { stream: pipe.stream });
  quiet.update(1, 2); quiet.update(2, 2); quiet.done();
  assert.deepEqual(pipe.writes, []);
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(0), '0 B');
});
