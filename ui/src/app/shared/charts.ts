import { Component, Directive, computed, input } from '@angular/core';

/**
 * One point or bar: `label` under the axis (e.g. a date, or date and time), `detail` what its tooltip names
 * besides the label (e.g. the VM of a backup's duration).
 */
export interface ChartPoint { label: string; value: number; detail?: string }

/** Tooltip text of a point: "detail · label: value". */
const tooltip = (p: ChartPoint, fmt: (n: number) => string): string => `${p.detail ? `${p.detail} · ` : ''}${p.label}: ${fmt(p.value)}`;

/**
 * Which of `labels` to print under the axis: about six spread over the axis, and never the same text twice
 * in a row (bars of one day labelled by date alone would otherwise all read "12/02").
 */
export function tickIndexes(labels: string[], most = 6): Set<number> {
  const step = Math.max(1, Math.ceil(labels.length / most));
  const shown = new Set<number>();
  let previous: string | undefined;
  labels.forEach((l, i) => {
    if (i % step !== 0 || l === previous) return;
    shown.add(i); previous = l;
  });
  return shown;
}

const W = 480, H = 160, PAD_L = 70, PAD_B = 22, PAD_T = 8, PAD_R = 8;

/** What both charts share: their inputs, the layout the templates use and the scale's top. */
@Directive()
abstract class Chart {
  readonly points = input.required<ChartPoint[]>();
  readonly label = input('');
  readonly format = input<(n: number) => string>((n) => String(Math.round(n)));
  protected readonly W = W; protected readonly H = H; protected readonly PAD_L = PAD_L; protected readonly PAD_B = PAD_B; protected readonly PAD_T = PAD_T; protected readonly PAD_R = PAD_R;
  readonly max = computed(() => Math.max(1, ...this.points().map((p) => p.value)));
}

/** Minimal SVG line/area chart (repository growth). No chart library. */
@Component({
  selector: 'sp-line-chart',
  template: `
    <svg class="sp-chart" [attr.viewBox]="'0 0 ' + W + ' ' + H" role="img" [attr.aria-label]="label()">
      <title>{{ label() }}</title>
      <line class="axis" [attr.x1]="PAD_L" [attr.x2]="W - PAD_R" [attr.y1]="H - PAD_B" [attr.y2]="H - PAD_B" />
      <line class="axis" [attr.x1]="PAD_L" [attr.x2]="PAD_L" [attr.y1]="PAD_T" [attr.y2]="H - PAD_B" />
      <text [attr.x]="PAD_L - 4" [attr.y]="PAD_T + 8" text-anchor="end">{{ format()(max()) }}</text>
      <text [attr.x]="PAD_L - 4" [attr.y]="H - PAD_B" text-anchor="end">{{ format()(0) }}</text>
      @if (geometry(); as g) {
        <path class="area" [attr.d]="g.area" />
        <path class="line" [attr.d]="g.line" />
        @for (d of g.dots; track $index) { <circle class="dot" [attr.cx]="d.x" [attr.cy]="d.y" r="3"><title>{{ d.title }}</title></circle> }
        @for (t of g.ticks; track t.x) { <text [attr.x]="t.x" [attr.y]="H - 6" text-anchor="middle">{{ t.label }}</text> }
      }
    </svg>`,
})
export class LineChart extends Chart {
  readonly geometry = computed(() => {
    const pts = this.points();
    if (pts.length === 0) return null;
    const max = this.max();
    const x = (i: number) => PAD_L + (pts.length === 1 ? 0 : (i * (W - PAD_L - PAD_R)) / (pts.length - 1));
    const y = (v: number) => H - PAD_B - (v / max) * (H - PAD_B - PAD_T);
    const line = pts.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
    const area = `${line} L${x(pts.length - 1).toFixed(1)},${H - PAD_B} L${PAD_L},${H - PAD_B} Z`;
    const shown = tickIndexes(pts.map((p) => p.label));
    const ticks = pts.map((p, i) => ({ x: x(i), label: p.label })).filter((_, i) => shown.has(i));
    const fmt = this.format();
    // A line needs two points: dots keep a single day (a new repository) visible.
    const dots = pts.length <= 31 ? pts.map((p, i) => ({ x: x(i), y: y(p.value), title: tooltip(p, fmt) })) : [];
    return { line, area, ticks, dots };
  });
}

/** Minimal SVG bar chart (backup durations). */
@Component({
  selector: 'sp-bar-chart',
  template: `
    <svg class="sp-chart" [attr.viewBox]="'0 0 ' + W + ' ' + H" role="img" [attr.aria-label]="label()">
      <title>{{ label() }}</title>
      <line class="axis" [attr.x1]="PAD_L" [attr.x2]="W - PAD_R" [attr.y1]="H - PAD_B" [attr.y2]="H - PAD_B" />
      <text [attr.x]="PAD_L - 4" [attr.y]="PAD_T + 8" text-anchor="end">{{ format()(max()) }}</text>
      <text [attr.x]="PAD_L - 4" [attr.y]="H - PAD_B" text-anchor="end">{{ format()(0) }}</text>
      @for (b of bars(); track $index) {
        <rect class="bar" [attr.x]="b.x" [attr.y]="b.y" [attr.width]="b.w" [attr.height]="b.h"><title>{{ b.title }}</title></rect>
        @if (b.showLabel) { <text [attr.x]="b.x + b.w / 2" [attr.y]="H - 6" text-anchor="middle">{{ b.label }}</text> }
      }
    </svg>`,
})
export class BarChart extends Chart {
  readonly bars = computed(() => {
    const pts = this.points();
    const slot = (W - PAD_L - PAD_R) / Math.max(1, pts.length);
    const max = this.max();
    const shown = tickIndexes(pts.map((p) => p.label));
    const fmt = this.format();
    return pts.map((p, i) => {
      const h = (p.value / max) * (H - PAD_B - PAD_T);
      return { x: PAD_L + i * slot + slot * 0.15, w: slot * 0.7, y: H - PAD_B - h, h, label: p.label, title: tooltip(p, fmt), showLabel: shown.has(i) };
    });
  });
}
