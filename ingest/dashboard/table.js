// The devices table: status, last fix, seq gaps (still expected vs lost for good) and backlog.
// Rows come from /api/devices (polled) and their last-fix cells are refreshed by live events.

export function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function gapTitle(gaps) {
  return gaps
    .slice(0, 20)
    .map((g) => `${g.from === g.to ? g.from : `${g.from}–${g.to}`} ${g.lost ? 'lost' : 'pending'}`)
    .join('\n');
}

export class DevicesTable {
  constructor(table, { offlineAfterS }) {
    this.body = table.tBodies[0];
    this.offlineAfterMs = offlineAfterS * 1000;
    this.rows = new Map();
    this.devices = new Map();
    this.dirty = new Set();
    this.flushTimer = null;
    /** Device ids in table order. */
    this.order = [];
  }

  /** A full list from /api/devices. */
  render(list, serverNow) {
    const skew = Date.now() - serverNow;
    const seen = new Set();
    for (const d of [...list].sort((a, b) => (a.deviceId < b.deviceId ? -1 : 1))) {
      seen.add(d.deviceId);
      const prev = this.devices.get(d.deviceId);
      // Keep a fresher position the live stream already gave us.
      if (prev?.lastFix && prev.lastFix.time > d.lastFix.time) d.lastFix = prev.lastFix;
      d.lastSeenLocal = Math.max(d.lastSeenMs + skew, prev?.lastSeenLocal ?? 0);
      this.devices.set(d.deviceId, d);
      this.row(d.deviceId);
    }
    for (const [id, tr] of this.rows) {
      if (!seen.has(id) && !this.devices.get(id)?.liveOnly) {
        tr.remove();
        this.rows.delete(id);
        this.order.splice(this.order.indexOf(id), 1);
        this.devices.delete(id);
      }
    }
    this.tick();
  }

  /** A live fix: refresh that row's position without waiting for the next poll. */
  live(fix) {
    let d = this.devices.get(fix.deviceId);
    if (!d) {
      d = { deviceId: fix.deviceId, liveOnly: true, gaps: [], missing: 0, lost: 0, backlogS: 0 };
      this.devices.set(fix.deviceId, d);
    }
    d.lastFix = fix;
    d.lastSeenLocal = Date.now();
    // A big fleet sends thousands of fixes a second: touch the DOM a few times a second, not per fix.
    this.dirty.add(fix.deviceId);
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = null;
        for (const id of this.dirty) this.row(id);
        this.dirty.clear();
      }, 250);
    }
  }

  row(id) {
    const d = this.devices.get(id);
    let tr = this.rows.get(id);
    if (!tr) {
      tr = el('tr');
      tr.dataset.device = id;
      for (const c of ['id', 'status', 'age', 'pos', 'speed num', 'seq num', 'gaps', 'backlog'])
        tr.append(el('td', c));
      // Keep rows sorted by id: binary search in the sorted id list (fleets have thousands).
      let lo = 0;
      let hi = this.order.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.order[mid] < id) lo = mid + 1;
        else hi = mid;
      }
      const next = this.order[lo];
      this.order.splice(lo, 0, id);
      this.rows.set(id, tr);
      this.body.insertBefore(tr, next === undefined ? null : this.rows.get(next));
    }
    const [idC, , , posC, speedC, seqC, gapsC, backlogC] = tr.cells;
    idC.textContent = id;
    const f = d.lastFix;
    posC.textContent = `${f.lat.toFixed(5)}, ${f.lon.toFixed(5)}`;
    speedC.textContent = f.speed === undefined ? '–' : `${(f.speed * 3.6).toFixed(0)} km/h`;
    seqC.textContent = String(Math.max(d.maxSeq ?? 0, f.seq));
    gapsC.replaceChildren();
    if (d.missing > 0) gapsC.append(el('span', 'badge pending', `${d.missing} pending`));
    if (d.lost > 0) gapsC.append(el('span', 'badge lost', `${d.lost} lost`));
    if (d.missing === 0 && d.lost === 0) gapsC.append(el('span', 'dim', 'none'));
    gapsC.title = gapTitle(d.gaps ?? []);
    backlogC.replaceChildren(
      d.backlogS > 10
        ? el('span', 'badge pending', `${Math.round(d.backlogS)} s behind`)
        : el('span', 'dim', '–'),
    );
  }

  /** Status and ages follow the clock, not only new data. */
  tick() {
    const now = Date.now();
    let online = 0;
    for (const [id, tr] of this.rows) {
      const d = this.devices.get(id);
      const on = now - d.lastSeenLocal <= this.offlineAfterMs;
      if (on) online++;
      const status = tr.cells[1];
      if (status.dataset.state !== String(on)) {
        status.dataset.state = String(on);
        status.replaceChildren(el('span', `pill ${on ? 'online' : 'offline'}`, on ? 'online' : 'offline'));
      }
      tr.cells[2].textContent = ago(now - d.lastFix.time);
      tr.cells[2].title = new Date(d.lastFix.time).toISOString();
    }
    return { online, offline: this.rows.size - online };
  }

  totals() {
    let missing = 0;
    let lost = 0;
    for (const d of this.devices.values()) {
      missing += d.missing ?? 0;
      lost += d.lost ?? 0;
    }
    return { missing, lost };
  }
}
