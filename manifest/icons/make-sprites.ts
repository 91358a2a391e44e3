// Draws the plugin's icon sprite sheet (32×32 tiles, light icons in row 0, dark-theme icons in row 1) and writes
// it to manifest/icons/sprites.png and ui/src/assets/sprites.png (the UI build serves it at /ui/assets/sprites.png).
// Run: node manifest/icons/make-sprites.ts   (no image library: a tiny supersampling rasterizer + PNG encoder)
import { writeFileSync } from 'node:fs';
import { deflateSync, crc32 } from 'node:zlib';

type Pt = [number, number];
type Shape = (x: number, y: number) => boolean;
type Layer = { color: string; shape: Shape };

const TILE = 32;
export const ICONS = ['main', 'backup-now', 'restore', 'recover-files', 'add-to-job'] as const;

const capsule = (a: Pt, b: Pt, r: number): Shape => (x, y) => {
  const [ax, ay] = a; const [bx, by] = b;
  const dx = bx - ax, dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy || 1)));
  const px = ax + t * dx - x, py = ay + t * dy - y;
  return px * px + py * py <= r * r;
};
const polyline = (pts: Pt[], r: number, closed = false): Shape => {
  const segs: Shape[] = [];
  for (let i = 0; i < pts.length - (closed ? 0 : 1); i++) segs.push(capsule(pts[i], pts[(i + 1) % pts.length], r));
  return (x, y) => segs.some((s) => s(x, y));
};
const polygon = (pts: Pt[]): Shape => (x, y) => {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i]; const [xj, yj] = pts[j];
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
};
const arc = (c: Pt, radius: number, width: number, fromDeg: number, toDeg: number): Shape => (x, y) => {
  const dx = x - c[0], dy = y - c[1];
  const d = Math.hypot(dx, dy);
  if (Math.abs(d - radius) > width / 2) return false;
  let a = (Math.atan2(dy, dx) * 180) / Math.PI; if (a < 0) a += 360;
  return fromDeg <= toDeg ? a >= fromDeg && a <= toDeg : a >= fromDeg || a <= toDeg;
};
const disc = (c: Pt, r: number): Shape => (x, y) => (x - c[0]) ** 2 + (y - c[1]) ** 2 <= r * r;

const SHIELD: Pt[] = [[16, 3], [27, 7], [27, 15], [25, 21], [21, 26], [16, 29], [11, 26], [7, 21], [5, 15], [5, 7]];

function icon(name: (typeof ICONS)[number], fg: string, accent: string, bg: string): Layer[] {
  switch (name) {
    case 'main': return [
      { color: accent, shape: polygon(SHIELD) },
      { color: bg, shape: polyline([[10, 16], [14, 20.5], [22, 11]], 1.8) },
    ];
    case 'backup-now': return [
      { color: fg, shape: polyline(SHIELD, 1.3, true) },
      { color: accent, shape: polygon([[13, 10], [22, 16], [13, 22]]) },
    ];
    case 'restore': return [
      { color: fg, shape: arc([16, 16], 10.5, 2.6, 200, 150) },
      { color: fg, shape: polygon([[2, 10], [10, 11], [4, 18]]) },
      { color: accent, shape: polyline([[16, 10], [16, 16.5], [20.5, 19]], 1.3) },
    ];
    case 'recover-files': return [
      { color: fg, shape: polyline([[7, 3], [19, 3], [25, 9], [25, 29], [7, 29]], 1.2, true) },
      { color: fg, shape: polyline([[19, 3], [19, 9], [25, 9]], 1.0) },
      { color: accent, shape: polyline([[11, 15], [21, 15]], 1.2) },
      { color: accent, shape: polyline([[11, 20], [21, 20]], 1.2) },
      { color: accent, shape: polyline([[11, 25], [17, 25]], 1.2) },
    ];
    case 'add-to-job': return [
      { color: fg, shape: polyline([[4, 7], [18, 7]], 1.3) },
      { color: fg, shape: polyline([[4, 14], [18, 14]], 1.3) },
      { color: fg, shape: polyline([[4, 21], [13, 21]], 1.3) },
      { color: accent, shape: disc([23, 23], 7) },
      { color: bg, shape: polyline([[23, 19], [23, 27]], 1.3) },
      { color: bg, shape: polyline([[19, 23], [27, 23]], 1.3) },
    ];
  }
}

const THEMES = {
  light: { fg: '#565656', accent: '#0072a3', bg: '#ffffff' },
  dark: { fg: '#d7d7d7', accent: '#49afd9', bg: '#1b2a32' },
};

function rgba(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

function render(): Buffer {
  const w = TILE * ICONS.length, h = TILE * 2;
  const px = Buffer.alloc(w * h * 4);
  const SS = 4;
  (['light', 'dark'] as const).forEach((theme, row) => {
    const c = THEMES[theme];
    ICONS.forEach((name, col) => {
      const layers = icon(name, c.fg, c.accent, c.bg);
      for (let y = 0; y < TILE; y++) for (let x = 0; x < TILE; x++) {
        let r = 0, g = 0, b = 0, a = 0;
        for (let sy = 0; sy < SS; sy++) for (let sx = 0; sx < SS; sx++) {
          const fx = x + (sx + 0.5) / SS, fy = y + (sy + 0.5) / SS;
          let hit: string | null = null;
          for (const l of layers) if (l.shape(fx, fy)) hit = l.color;   // later layers paint over earlier ones
          if (hit) { const [cr, cg, cb] = rgba(hit); r += cr; g += cg; b += cb; a++; }
        }
        const o = ((row * TILE + y) * w + col * TILE + x) * 4;
        if (a) { px[o] = Math.round(r / a); px[o + 1] = Math.round(g / a); px[o + 2] = Math.round(b / a); px[o + 3] = Math.round((a * 255) / (SS * SS)); }
      }
    });
  });
  return png(w, h, px);
}

function png(w: number, h: number, rgbaPx: Buffer): Buffer {
  const raw = Buffer.alloc((w * 4 + 1) * h);
  for (let y = 0; y < h; y++) { raw[y * (w * 4 + 1)] = 0; rgbaPx.copy(raw, y * (w * 4 + 1) + 1, y * w * 4, (y + 1) * w * 4); }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

if (import.meta.main) {
  const out = render();
  for (const f of ['manifest/icons/sprites.png', 'ui/src/assets/sprites.png']) writeFileSync(new URL(`../../${f}`, import.meta.url), out);
  console.log(`sprites.png: ${ICONS.length} icons × 2 themes, ${out.length} bytes`);
}
