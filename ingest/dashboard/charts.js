// Small time-series line charts on a canvas (no chart library, so the page works offline):
// one line per consumer group over the last few minutes, y axis from zero with nice ticks.
import { niceStep } from './grid.js';

const WINDOW_MS = 5 * 60_000;
export const PALETTE = ['#2f81f7', '#3fb950', '#d29922', '#bc8cff', '#f85149', '#39c5cf'];

export class LineChart {
  /** `now`: the server's clock now; points carry the server's times (a browser clock off by
   *  minutes drew every point outside the window: empty charts). */
  constructor(
    canvas,
    { format = (v) => String(Math.round(v)), empty = 'no data yet', now = () => Date.now() } = {},
  ) {
    this.now = now;
    this.empty = empty;
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.format = format;
    this.series = new Map();
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  add(name, t, v) {
    let s = this.series.get(name);
    if (!s) {
      s = [];
      this.series.set(name, s);
    }
    // After a break the line starts afresh: no straight stroke across a time nothing was known.
    s.push({ t, v, gap: this.broken?.has(name) ?? false });
    this.broken?.delete(name);
    while (s.length > 0 && s[0].t < t - WINDOW_MS) s.shift();
  }

  /** The next point of `name` (or of every series) is not joined to the one before it. */
  breakLine(name) {
    this.broken ??= new Set();
    for (const n of name === undefined ? this.series.keys() : [name]) this.broken.add(n);
  }

  colourOf(name) {
    const i = [...this.series.keys()].sort().indexOf(name);
    return PALETTE[i % PALETTE.length];
  }

  draw() {
    const { canvas, ctx } = this;
    const r = canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(r.width * dpr);
    canvas.height = Math.round(r.height * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const w = r.width;
    const h = r.height;
    const left = 46;
    const bottom = h - 16;
    const top = 16;
    ctx.clearRect(0, 0, w, h);
    const now = this.now();
    let max = 0;
    for (const s of this.series.values()) for (const p of s) max = Math.max(max, p.v);
    const step = niceStep(Math.max(max, 1) / 4);
    const ymax = step * Math.max(1, Math.ceil(max / step));
    const y = (v) => bottom - (v / ymax) * (bottom - top);
    const x = (t) => left + ((t - (now - WINDOW_MS)) / WINDOW_MS) * (w - left - 4);
    ctx.font = '11px system-ui, sans-serif';
    ctx.lineWidth = 1;
    for (let v = 0; v <= ymax + step / 2; v += step) {
      ctx.strokeStyle = '#1f2a36';
      ctx.beginPath();
      ctx.moveTo(left, Math.round(y(v)) + 0.5);
      ctx.lineTo(w - 4, Math.round(y(v)) + 0.5);
      ctx.stroke();
      ctx.fillStyle = '#8a99a8';
      ctx.textAlign = 'right';
      ctx.fillText(this.format(v), left - 6, y(v) + 4);
    }
    ctx.textAlign = 'left';
    ctx.fillText('-5 min', left, h - 2);
    ctx.textAlign = 'right';
    ctx.fillText('now', w - 4, h - 2);
    let lx = left + 4;
    for (const [name, s] of [...this.series.entries()].sort()) {
      const colour = this.colourOf(name);
      ctx.strokeStyle = colour;
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      for (const [i, p] of s.entries()) {
        if (i === 0 || p.gap) ctx.moveTo(x(p.t), y(p.v));
        else ctx.lineTo(x(p.t), y(p.v));
      }
      ctx.stroke();
      const last = s[s.length - 1];
      if (last) {
        ctx.fillStyle = colour;
        ctx.beginPath();
        ctx.arc(x(last.t), y(last.v), 2.5, 0, Math.PI * 2);
        ctx.fill();
      }
      const label = `${name} ${last ? this.format(last.v) : ''}`;
      ctx.fillStyle = colour;
      ctx.fillRect(lx, 4, 8, 8);
      ctx.fillStyle = '#d7dde4';
      ctx.textAlign = 'left';
      ctx.fillText(label, lx + 12, 12);
      lx += ctx.measureText(label).width + 26;
    }
    if (this.series.size === 0) {
      ctx.fillStyle = '#5b6b7b';
      ctx.textAlign = 'center';
      ctx.fillText(this.empty, (left + w) / 2, (top + bottom) / 2);
    }
  }
}
