// The fleet map: markers and trails drawn on a canvas in Web Mercator, over a lat/lon grid with
// a scale bar, so it needs no network. With a tile URL configured, tiles are drawn underneath.
// The view fits the fleet's bounding box and refits only when a device leaves it, so markers
// visibly move; dragging or zooming by hand turns auto-fit off until "Fit fleet" is pressed.

import { gridLines, niceStep } from './grid.js';
import { MARKER_HALF, placeLabels } from './labels.js';
import { nextInStack, stackMarkers, topOf } from './stacks.js';

const TRAIL_POINTS = 120;
/** A selected track grows with the live fixes; past this many points its oldest are dropped. */
const TRACK_POINTS = 20_000;
const MIN_SPAN_M = 600;
const EARTH_M = 40075016.686;
const LABEL_LIMIT = 200;
const LABEL_FONT = '11px system-ui, sans-serif';
const LABEL_HEIGHT = 13;
/** A stack of riders on one spot: a larger disc with the count in it. */
const STACK_RADIUS = 9;
/**
 * Zoom limits (pixels per world width): out to the whole world in 256 px, in to about 1 cm a
 * pixel. A view never has a scale of 0 (a canvas without a size), which every conversion divides by.
 */
const MIN_SCALE = 256;
const MAX_SCALE = 2 ** 32;

function clampScale(s) {
  return Number.isFinite(s) ? Math.min(MAX_SCALE, Math.max(MIN_SCALE, s)) : MIN_SCALE;
}

/** Longitude/latitude to Web Mercator world units (0..1 both ways, y down). */
export function project(lon, lat) {
  const phi = (Math.max(-85.0511, Math.min(85.0511, lat)) * Math.PI) / 180;
  return { x: (lon + 180) / 360, y: (1 - Math.log(Math.tan(Math.PI / 4 + phi / 2)) / Math.PI) / 2 };
}

export function unproject(x, y) {
  return { lon: x * 360 - 180, lat: (Math.atan(Math.sinh(Math.PI * (1 - 2 * y))) * 180) / Math.PI };
}

/** Marker colours by LastSeen state (last-seen.js): the table's online/offline, plus fresh. */
const COLOURS = { fresh: '#3fb950', stale: '#d29922', offline: '#6e7b88' };

export class FleetMap {
  /** `seen`: the page's LastSeen (last-seen.js), which the devices table reads too. */
  constructor(canvas, { tileUrl }, seen) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tileUrl = tileUrl;
    this.seen = seen;
    this.markers = new Map();
    /**
     * The selected device's track: { id, pts, time } with pts in world units, its stored fixes
     * then the live ones since (time: GNSS ms of the newest), or null.
     */
    this.track = null;
    this.view = { cx: 0.5, cy: 0.5, scale: 1024 };
    this.autoFit = true;
    this.tiles = new Map();
    this.dirty = true;
    /** The device under the pointer: its label is placed first. */
    this.hover = null;
    /** The selected device (set by the page when a row or marker is clicked), or null. */
    this.selected = null;
    /**
     * Called when a marker is clicked (not dragged) with the device to select next: the marker's,
     * or, on a stack of riders, the next of them; the selected one's id again means clear it.
     */
    this.onMarkerClick = null;
    /** Riders on one spot, of the last frame: [{ ids, top, x, y }] (stacks.js; read by the tests). */
    this.stacks = [];
    /** Label boxes of the last frame, in CSS pixels (placeLabels' answer; read by the tests). */
    this.labels = [];
    /** Measured label widths by text; a stack's "+N" texts come and go, so it is emptied when it outgrows the fleet. */
    this.labelWidths = new Map();
    this.size = { w: 0, h: 0 };
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
    this.listen();
    let lastDraw = 0;
    const frame = (t) => {
      // A big fleet changes every frame; redrawing thousands of markers 4 times a second is
      // plenty for an ops screen and leaves the browser responsive.
      const minGap = this.markers.size > LABEL_LIMIT * 5 ? 250 : 0;
      if (this.dirty && t - lastDraw >= minGap) {
        lastDraw = t;
        this.draw();
      }
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
    // Ages change colour with time even without new fixes; once a second is also when the view
    // is checked against the fleet (a whole-fleet scan is too costly per event).
    setInterval(() => {
      this.dirty = true;
      if (this.autoFit && this.needsFit()) this.fit();
    }, 1000);
  }

  /** A new newest fix of a device (from the live stream). */
  update(fix) {
    let m = this.markers.get(fix.deviceId);
    if (!m) {
      m = { id: fix.deviceId, trail: [] };
      this.markers.set(fix.deviceId, m);
    }
    Object.assign(m, {
      lat: fix.lat,
      lon: fix.lon,
      time: fix.time,
      seq: fix.seq,
      course: fix.course,
      speed: fix.speed,
    });
    const p = project(fix.lon, fix.lat);
    m.trail.push(p);
    if (m.trail.length > TRAIL_POINTS) m.trail.shift();
    this.extendTrack(fix);
    if (this.autoFit && (this.markers.size === 1 || !this.inView(p, 0.04))) this.fit();
    this.dirty = true;
  }

  /** A live fix of the selected device continues its track, so the track ends at its marker. */
  extendTrack(fix) {
    const t = this.track;
    if (!t || t.id !== fix.deviceId || !(fix.time > t.time)) return;
    t.pts.push(project(fix.lon, fix.lat));
    t.time = fix.time;
    if (t.pts.length > TRACK_POINTS) t.pts.splice(0, t.pts.length - TRACK_POINTS);
  }

  /** Shows a device's stored track (from the database) and zooms to it; null clears it. */
  setTrack(id, fixes) {
    if (!id) {
      this.track = null;
      this.fit();
      return;
    }
    this.track = {
      id,
      pts: fixes.map((f) => project(f.lon, f.lat)),
      time: fixes.reduce((t, f) => Math.max(t, f.time), Number.NEGATIVE_INFINITY),
    };
    // The stream may have moved the marker on since the database answered: the track goes there.
    const m = this.markers.get(id);
    if (m) this.extendTrack({ deviceId: id, time: m.time, lat: m.lat, lon: m.lon });
    const all = this.track.pts;
    // A canvas without a size (hidden) has nothing to fit to: the view stays as it is.
    if (all.length > 0 && this.size.w >= 1 && this.size.h >= 1) {
      const b = { x0: 1, y0: 1, x1: 0, y1: 0 };
      for (const p of all) {
        b.x0 = Math.min(b.x0, p.x);
        b.x1 = Math.max(b.x1, p.x);
        b.y0 = Math.min(b.y0, p.y);
        b.y1 = Math.max(b.y1, p.y);
      }
      const minSpan = MIN_SPAN_M / this.metersPerWorld(b);
      const { w, h } = this.size;
      this.view = {
        cx: (b.x0 + b.x1) / 2,
        cy: (b.y0 + b.y1) / 2,
        scale: clampScale(
          Math.min((w * 0.8) / Math.max(b.x1 - b.x0, minSpan), (h * 0.8) / Math.max(b.y1 - b.y0, minSpan)),
        ),
      };
    }
    // Looking at one rider: the fleet must not pull the view away.
    this.autoFit = false;
    this.dirty = true;
  }

  remove(id) {
    this.markers.delete(id);
    this.labelWidths.delete(id);
    this.dirty = true;
  }

  /** Where a device's marker is on the canvas, in CSS pixels (for tests and tooltips). */
  markerScreenPos(id) {
    const m = this.markers.get(id);
    if (!m) return null;
    return this.toScreen(project(m.lon, m.lat));
  }

  fit() {
    const v = this.fittedView();
    if (!v) return;
    this.view = v;
    this.autoFit = true;
    this.dirty = true;
  }

  /** The view that shows every marker and trail, or null without markers or without a canvas size. */
  fittedView() {
    const b = this.bounds(true);
    if (!b || this.size.w < 1 || this.size.h < 1) return null;
    const { x0, y0, x1, y1 } = b;
    // At least MIN_SPAN_M across, so one parked rider is not shown at street-atom scale.
    const minSpan = MIN_SPAN_M / this.metersPerWorld(b);
    const spanX = Math.max(x1 - x0, minSpan);
    const spanY = Math.max(y1 - y0, minSpan);
    const { w, h } = this.size;
    // 70% of the canvas: room for riders to move before the next refit.
    return {
      cx: (x0 + x1) / 2,
      cy: (y0 + y1) / 2,
      scale: clampScale(Math.min((w * 0.7) / spanX, (h * 0.7) / spanY)),
    };
  }

  /**
   * Auto-fit with hysteresis: refit when the view is clearly not the fitted one (off-centre by
   * over 10% of the canvas, or zoomed 1.5x off), so small moves leave the map still.
   */
  needsFit() {
    const v = this.fittedView();
    if (!v) return false;
    const { w, h } = this.size;
    const dx = Math.abs(v.cx - this.view.cx) * this.view.scale;
    const dy = Math.abs(v.cy - this.view.cy) * this.view.scale;
    const zoom = v.scale / this.view.scale;
    return dx > 0.1 * w || dy > 0.1 * h || zoom > 1.5 || zoom < 1 / 1.5;
  }

  metersPerWorld(b) {
    const lat = unproject(0, (b.y0 + b.y1) / 2).lat;
    return EARTH_M * Math.cos((lat * Math.PI) / 180);
  }

  /** Bounding box in world units of the markers (and their trails). */
  bounds(withTrails) {
    if (this.markers.size === 0) return null;
    let [x0, y0, x1, y1] = [1, 1, 0, 0];
    const add = (p) => {
      x0 = Math.min(x0, p.x);
      x1 = Math.max(x1, p.x);
      y0 = Math.min(y0, p.y);
      y1 = Math.max(y1, p.y);
    };
    for (const m of this.markers.values()) {
      if (withTrails) for (const p of m.trail) add(p);
      else add(m.trail[m.trail.length - 1]);
    }
    return { x0, y0, x1, y1 };
  }

  inView(p, margin) {
    const s = this.toScreen(p);
    const { w, h } = this.size;
    return s.x >= w * margin && s.x <= w * (1 - margin) && s.y >= h * margin && s.y <= h * (1 - margin);
  }

  toScreen(p) {
    return {
      x: (p.x - this.view.cx) * this.view.scale + this.size.w / 2,
      y: (p.y - this.view.cy) * this.view.scale + this.size.h / 2,
    };
  }

  toWorld(sx, sy) {
    return {
      x: (sx - this.size.w / 2) / this.view.scale + this.view.cx,
      y: (sy - this.size.h / 2) / this.view.scale + this.view.cy,
    };
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.size = { w: r.width, h: r.height };
    this.canvas.width = Math.round(r.width * dpr);
    this.canvas.height = Math.round(r.height * dpr);
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (this.autoFit) this.fit();
    this.dirty = true;
  }

  listen() {
    let drag = null;
    this.canvas.addEventListener('pointerdown', (e) => {
      drag = { x: e.clientX, y: e.clientY, cx: this.view.cx, cy: this.view.cy, moved: false };
      this.canvas.setPointerCapture(e.pointerId);
    });
    this.canvas.addEventListener('pointermove', (e) => {
      if (!drag) {
        const r = this.canvas.getBoundingClientRect();
        this.setHover(this.markerAt(e.clientX - r.left, e.clientY - r.top));
        this.canvas.style.cursor = this.hover ? 'pointer' : '';
        return;
      }
      // A hand's jitter during a click is not a drag: the view stays until the pointer really moves.
      if (!drag.moved && Math.hypot(e.clientX - drag.x, e.clientY - drag.y) < 4) return;
      drag.moved = true;
      this.view.cx = drag.cx - (e.clientX - drag.x) / this.view.scale;
      this.view.cy = drag.cy - (e.clientY - drag.y) / this.view.scale;
      this.autoFit = false;
      this.dirty = true;
    });
    this.canvas.addEventListener('pointerup', (e) => {
      const click = drag && !drag.moved;
      drag = null;
      if (!click || !this.onMarkerClick) return;
      const r = this.canvas.getBoundingClientRect();
      const id = this.markerAt(e.clientX - r.left, e.clientY - r.top);
      if (!id) return;
      const ids = this.stacks.find((s) => s.ids.includes(id))?.ids ?? [id];
      this.onMarkerClick(nextInStack(ids, this.selected) ?? this.selected);
    });
    this.canvas.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const r = this.canvas.getBoundingClientRect();
        const sx = e.clientX - r.left;
        const sy = e.clientY - r.top;
        const before = this.toWorld(sx, sy);
        this.view.scale = clampScale(this.view.scale * Math.exp(-e.deltaY * 0.0015));
        const after = this.toWorld(sx, sy);
        this.view.cx += before.x - after.x;
        this.view.cy += before.y - after.y;
        this.autoFit = false;
        this.dirty = true;
      },
      { passive: false },
    );
    this.canvas.addEventListener('pointerleave', () => this.setHover(null));
    this.canvas.addEventListener('dblclick', () => this.fit());
  }

  setHover(id) {
    if (id === this.hover) return;
    this.hover = id;
    this.dirty = true;
  }

  /**
   * The device whose marker is nearest to a point of the canvas (CSS pixels), if one is on it; of
   * riders on the very same spot the first by id, as a stack shows on top when nothing is hovered.
   */
  markerAt(sx, sy) {
    let best = null;
    let bestD = MARKER_HALF * MARKER_HALF * 2;
    for (const m of this.markers.values()) {
      const s = this.toScreen(project(m.lon, m.lat));
      const d = (s.x - sx) ** 2 + (s.y - sy) ** 2;
      if (d < bestD || (d === bestD && (best === null || m.id < best))) {
        best = m.id;
        bestD = d;
      }
    }
    return best;
  }

  draw() {
    this.dirty = false;
    const { ctx } = this;
    const { w, h } = this.size;
    ctx.fillStyle = '#0c1116';
    ctx.fillRect(0, 0, w, h);
    if (this.tileUrl) this.drawTiles();
    this.drawGrid();
    const now = Date.now();
    for (const m of this.markers.values()) this.drawTrail(m);
    if (this.track) this.drawTrack();
    if (this.markers.size > LABEL_LIMIT * 5) {
      this.stacks = [];
      for (const m of this.markers.values()) this.drawDot(m, now);
    } else {
      this.stacks = this.stackUp();
      for (const s of this.stacks) this.drawMarker(this.markers.get(s.top), now, s.ids.length);
    }
    this.drawLabels();
    this.drawScale();
    ctx.fillStyle = '#5b6b7b';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'right';
    ctx.fillText(
      this.tileUrl ? 'Web Mercator · tiles' : 'Web Mercator · lat/lon grid (offline)',
      w - 8,
      h - 8,
    );
  }

  drawTiles() {
    const { ctx } = this;
    const z = Math.max(0, Math.min(19, Math.round(Math.log2(this.view.scale / 256))));
    const n = 2 ** z;
    const tl = this.toWorld(0, 0);
    const br = this.toWorld(this.size.w, this.size.h);
    const size = this.view.scale / n;
    for (let tx = Math.floor(tl.x * n); tx <= Math.floor(br.x * n); tx++) {
      for (let ty = Math.max(0, Math.floor(tl.y * n)); ty <= Math.min(n - 1, Math.floor(br.y * n)); ty++) {
        const x = ((tx % n) + n) % n;
        const url = this.tileUrl.replace('{z}', z).replace('{x}', x).replace('{y}', ty).replace('{s}', 'a');
        let img = this.tiles.get(url);
        if (!img) {
          img = new Image();
          img.onload = () => {
            this.dirty = true;
          };
          img.src = url;
          this.tiles.set(url, img);
        }
        if (img.complete && img.naturalWidth > 0) {
          const s = this.toScreen({ x: tx / n, y: ty / n });
          ctx.globalAlpha = 0.55;
          ctx.drawImage(img, s.x, s.y, size + 0.5, size + 0.5);
          ctx.globalAlpha = 1;
        }
      }
    }
  }

  drawGrid() {
    const { ctx } = this;
    const { w, h } = this.size;
    const tl = this.toWorld(0, 0);
    const br = this.toWorld(w, h);
    const nw = unproject(tl.x, tl.y);
    const se = unproject(br.x, br.y);
    // Bounded lines whatever the canvas size or zoom (grid.js).
    const grid = gridLines({ west: nw.lon, east: se.lon, south: se.lat, north: nw.lat });
    ctx.lineWidth = 1;
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#5b6b7b';
    ctx.strokeStyle = '#1b2530';
    ctx.textAlign = 'left';
    for (const lon of grid.lons) {
      const x = Math.round(this.toScreen(project(lon, 0)).x) + 0.5;
      ctx.beginPath();
      ctx.moveTo(x, 0);
      ctx.lineTo(x, h);
      ctx.stroke();
      ctx.fillText(`${lon.toFixed(grid.decimals)}°`, x + 3, h - 22);
    }
    for (const lat of grid.lats) {
      const y = Math.round(this.toScreen(project(0, lat)).y) + 0.5;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(w, y);
      ctx.stroke();
      // Not in the bottom strip: the scale bar and the longitude labels are drawn there.
      if (y < h - 56) ctx.fillText(`${lat.toFixed(grid.decimals)}°`, 4, y - 3);
    }
  }

  drawScale() {
    const { ctx } = this;
    const { h } = this.size;
    const lat = unproject(this.view.cx, this.view.cy).lat;
    const mPerPx = (EARTH_M * Math.cos((lat * Math.PI) / 180)) / this.view.scale;
    const meters = niceStep(mPerPx * 100);
    const px = meters / mPerPx;
    const x = 12;
    const y = h - 40;
    ctx.strokeStyle = '#d7dde4';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(x, y - 5);
    ctx.lineTo(x, y);
    ctx.lineTo(x + px, y);
    ctx.lineTo(x + px, y - 5);
    ctx.stroke();
    ctx.fillStyle = '#d7dde4';
    ctx.font = '11px system-ui, sans-serif';
    ctx.textAlign = 'left';
    ctx.fillText(meters >= 1000 ? `${meters / 1000} km` : `${meters} m`, x + 4, y - 7);
  }

  colour(m, now) {
    return COLOURS[this.seen.state(m.id, now)];
  }

  drawTrail(m) {
    if (m.trail.length < 2 || this.markers.size > LABEL_LIMIT * 5) return;
    const { ctx } = this;
    ctx.strokeStyle = 'rgba(47, 129, 247, 0.45)';
    ctx.lineWidth = 2;
    ctx.beginPath();
    m.trail.forEach((p, i) => {
      const s = this.toScreen(p);
      if (i === 0) ctx.moveTo(s.x, s.y);
      else ctx.lineTo(s.x, s.y);
    });
    ctx.stroke();
  }

  drawTrack() {
    const { ctx } = this;
    const pts = this.track.pts.map((p) => this.toScreen(p));
    ctx.strokeStyle = '#e3b341';
    ctx.lineWidth = 3;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    for (const [i, s] of pts.entries()) {
      if (i === 0) ctx.moveTo(s.x, s.y);
      else ctx.lineTo(s.x, s.y);
    }
    ctx.stroke();
    if (pts[0]) {
      // Where the track starts: a hollow ring.
      ctx.strokeStyle = '#e3b341';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(pts[0].x, pts[0].y, 5, 0, Math.PI * 2);
      ctx.stroke();
    }
    const m = this.markers.get(this.track.id);
    if (m) {
      const s = this.toScreen(project(m.lon, m.lat));
      ctx.strokeStyle = '#e3b341';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(s.x, s.y, 11, 0, Math.PI * 2);
      ctx.stroke();
    }
  }

  /** Markers that look like one, with the selected or hovered rider of each on top. */
  stackUp() {
    const first = [this.selected, this.hover];
    const points = [];
    for (const m of this.markers.values()) points.push({ id: m.id, ...this.toScreen(project(m.lon, m.lat)) });
    return stackMarkers(points).map((s) => ({ ...s, top: topOf(s, first) }));
  }

  /** A dense fleet: small dots, so neighbours do not paint over each other. */
  drawDot(m, now) {
    const s = this.toScreen(project(m.lon, m.lat));
    this.ctx.fillStyle = this.colour(m, now);
    this.ctx.fillRect(s.x - 1.5, s.y - 1.5, 3, 3);
  }

  /** One rider, or (count > 1) a stack of riders shown by its top one's position and colour. */
  drawMarker(m, now, count = 1) {
    const { ctx } = this;
    const s = this.toScreen(project(m.lon, m.lat));
    const colour = this.colour(m, now);
    if (count > 1) {
      // No heading wedge: the riders under it go different ways.
      ctx.fillStyle = colour;
      ctx.strokeStyle = '#0c1116';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(s.x, s.y, STACK_RADIUS, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = '#0c1116';
      ctx.font = `bold ${count > 99 ? 8 : 10}px system-ui, sans-serif`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText(count > 99 ? '99+' : String(count), s.x, s.y + 0.5);
      ctx.textBaseline = 'alphabetic';
      return;
    }
    if (m.course !== undefined && (m.speed ?? 0) > 0.5) {
      // A heading wedge in the direction of travel.
      const a = ((m.course - 90) * Math.PI) / 180;
      ctx.fillStyle = colour;
      ctx.beginPath();
      ctx.moveTo(s.x + Math.cos(a) * 14, s.y + Math.sin(a) * 14);
      ctx.lineTo(s.x + Math.cos(a + 2.5) * 7, s.y + Math.sin(a + 2.5) * 7);
      ctx.lineTo(s.x + Math.cos(a - 2.5) * 7, s.y + Math.sin(a - 2.5) * 7);
      ctx.fill();
    }
    ctx.fillStyle = colour;
    ctx.strokeStyle = '#0c1116';
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(s.x, s.y, 6, 0, Math.PI * 2);
    ctx.fill();
    ctx.stroke();
  }

  /**
   * Device names where they fit (labels.js), one per stack: its top rider's, with "+N" for the
   * riders under it (clicks on the stack walk through them). A large fleet gets
   * only the selected and the hovered device's names: the table and its filter name the rest.
   */
  drawLabels() {
    const { ctx } = this;
    const { w, h } = this.size;
    const first = [this.selected, this.hover];
    const only = this.markers.size > LABEL_LIMIT ? first.filter(Boolean) : null;
    ctx.font = LABEL_FONT;
    const anchors = [];
    const stacked = this.stacks.length > 0 ? this.stacks : null;
    const candidates = stacked
      ? stacked.map((s) => ({
          id: s.top,
          x: s.x,
          y: s.y,
          half: s.ids.length > 1 ? STACK_RADIUS + 1 : MARKER_HALF,
          text: s.ids.length > 1 ? `${s.top} +${s.ids.length - 1}` : s.top,
        }))
      : (only ?? []).flatMap((id) => {
          const m = this.markers.get(id);
          return m ? [{ id, ...this.toScreen(project(m.lon, m.lat)), half: MARKER_HALF }] : [];
        });
    for (const a of candidates) {
      if (only && !only.includes(a.id)) continue;
      if (a.x >= -a.half && a.x <= w + a.half && a.y >= -a.half && a.y <= h + a.half) anchors.push(a);
    }
    const widthOf = (text) => {
      let lw = this.labelWidths.get(text);
      if (lw === undefined) {
        if (this.labelWidths.size > 2 * this.markers.size + 100) this.labelWidths.clear();
        lw = Math.ceil(ctx.measureText(text).width);
        this.labelWidths.set(text, lw);
      }
      return lw;
    };
    this.labels = placeLabels({
      anchors,
      widthOf,
      height: LABEL_HEIGHT,
      first,
      w,
      h,
    });
    ctx.fillStyle = '#d7dde4';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    for (const b of this.labels) ctx.fillText(b.text, b.x, b.y + 1);
    ctx.textBaseline = 'alphabetic';
  }
}
