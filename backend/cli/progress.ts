// A small terminal progress bar for CLI commands. On a TTY it redraws one line (at most 10×/s) with
// a bar, percentage, bytes, rate and ETA; when the stream is not a TTY it prints nothing.
import type { WriteStream } from 'node:tty';
import { formatBytes } from '../common/units.ts';

export { formatBytes };

function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? `${h}:${String(m).padStart(2, '0')}` : String(m)) + ':' + String(sec).padStart(2, '0');
}

export interface ProgressBar {
  /** Reports progress; cheap to call very often. With unit 'percent', `bytes` is the data moved so far. */
  update(done: number, total: number, bytes?: number): void;
  /** Clears the bar line (call before printing results). */
  done(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream | WriteStream;
  /** Force on/off (default: on when the stream is a TTY). */
  enabled?: boolean;
  /** 'bytes' (default), 'count' for item counts, 'percent' for a service's 0..100 with the bytes moved. */
  unit?: 'bytes' | 'count' | 'percent';
}

export function progressBar(label: string, opts: ProgressOptions = {}): ProgressBar {
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled ?? !!(stream as WriteStream).isTTY;
  if (!enabled) return { update() {}, done() {} };
  const start = Date.now();
  let last = 0;
  let drawn = false;
  const fmt = opts.unit === 'count' ? (n: number) => String(n) : formatBytes;
  return {
    update(done: number, total: number, bytes = 0) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const cols = (stream as WriteStream).columns || 80;
      const frac = total > 0 ? Math.min(1, done / total) : 0;
      const secs = (now - start) / 1000;
      const rate = secs > 0 ? done / secs : 0;
      const eta = rate > 0 ? (total - done) / rate : NaN;
      const tail = ` ${(frac * 100).toFixed(0).padStart(3)}%` + (opts.unit === 'percent'
        ? ` ${formatBytes(bytes)} read ${formatBytes(secs > 0 ? bytes / secs : 0)}/s`
        : ` ${fmt(done)}/${fmt(total)}` + (opts.unit === 'count' ? '' : ` ${formatBytes(rate)}/s`)) + ` ETA ${formatDuration(eta)}`;
      const width = Math.max(10, Math.min(40, cols - label.length - tail.length - 4));
      const fill = Math.round(frac * width);
      stream.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}]${tail}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
