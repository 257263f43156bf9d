// The devices table: status, last fix, seq gaps (still expected, lost for good, or refused by the
// cloud: dead-lettered) and backlog.
// Device data comes from /api/devices (polled) and the live stream; the table itself shows at
// most `limit` rows, devices needing attention first (offline, gaps, backlog), then by id, with
// a filter box. Ten thousand live rows would cost the browser more than they tell anyone, so the
// DOM is repainted from the data a few times a second, never per fix. Online or offline is the
// page's one notion of when each device was last heard from (last-seen.js), shared with the map.

import { duration } from './duration.js';

export function ago(ms) {
  return `${duration(ms)} ago`;
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function gapKind(g) {
  if (g.rejected) return 'rejected (dead-letter topic)';
  return g.lost ? 'lost' : 'pending';
}

function gapTitle(gaps) {
  return gaps
    .slice(0, 20)
    .map((g) => `${g.from === g.to ? g.from : `${g.from}–${g.to}`} ${gapKind(g)}`)
    .join('\n');
}

const CELLS = ['id', 'status', 'age', 'pos', 'speed num', 'seq num', 'gaps', 'backlog'];
const BACKLOG_S = 10;

export class DevicesTable {
  /** `seen`: the page's LastSeen (last-seen.js), which the map reads too. */
  constructor(table, note, seen, { limit = 200 } = {}) {
    this.body = table.tBodies[0];
    this.note = note;
    this.seen = seen;
    this.limit = limit;
    this.devices = new Map();
    this.filter = '';
    /** The device whose track is on the map (its row is highlighted). */
    this.selected = null;
    this.timer = null;
  }

  /**
   * A full list from /api/devices (its `now` already given to the LastSeen, which keeps the
   * later of each device's `lastSeenMs` and what the live stream said).
   */
  render(list, offlineAfterS) {
    const listed = new Set();
    this.seen.setOfflineAfter(offlineAfterS);
    for (const d of list) {
      listed.add(d.deviceId);
      const prev = this.devices.get(d.deviceId);
      // Keep a fresher position the live stream already gave us.
      // (A device whose every fix was refused has none from the list: the stream's, if any.)
      if (prev?.lastFix && (d.lastFix === undefined || prev.lastFix.time > d.lastFix.time))
        d.lastFix = prev.lastFix;
      this.seen.heard(d.deviceId, d.lastSeenMs);
      this.devices.set(d.deviceId, d);
    }
    for (const [id, d] of this.devices) if (!listed.has(id) && !d.liveOnly) this.devices.delete(id);
    this.offlineSuffix = `offline after ${offlineAfterS} s without a fix`;
    this.schedule();
  }

  /**
   * A live fix: remembered now, painted with the next repaint. When the server heard it
   * (`receivedAt`) is the page's LastSeen's business: the page tells it once for table and map.
   */
  live(fix) {
    let d = this.devices.get(fix.deviceId);
    if (!d) {
      d = { deviceId: fix.deviceId, liveOnly: true, gaps: [], missing: 0, lost: 0, backlogS: 0 };
      this.devices.set(fix.deviceId, d);
    }
    d.lastFix = fix;
    this.schedule();
  }

  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    this.paint();
  }

  schedule() {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.paint();
    }, 300);
  }

  online(d, now) {
    return this.seen.online(d.deviceId, now);
  }

  needsAttention(d, now) {
    return !this.online(d, now) || d.missing > 0 || d.lost > 0 || d.rejected > 0 || d.backlogS > BACKLOG_S;
  }

  /** Repaints the visible rows; returns fleet-wide counts for the header. */
  paint() {
    const now = Date.now();
    // Fix times are GNSS (server-side) times: their age is taken on the server's clock, not the
    // browser's (a browser 7 min ahead showed every fix 7 min old).
    const serverNow = this.seen.serverNow(now);
    let online = 0;
    let attention = 0;
    const shown = [];
    const ages = [];
    for (const d of this.devices.values()) {
      const on = this.online(d, now);
      if (on) {
        online++;
        if (d.lastFix) ages.push(serverNow - d.lastFix.time);
      }
      const warn = this.needsAttention(d, now);
      if (warn) attention++;
      if (this.filter && !d.deviceId.toLowerCase().includes(this.filter)) continue;
      shown.push({ d, warn });
    }
    shown.sort((a, b) => (a.warn !== b.warn ? (a.warn ? -1 : 1) : a.d.deviceId < b.d.deviceId ? -1 : 1));
    const rows = shown.slice(0, this.limit);
    while (this.body.rows.length > rows.length) this.body.lastElementChild.remove();
    while (this.body.rows.length < rows.length) {
      const tr = el('tr');
      for (const c of CELLS) tr.append(el('td', c));
      this.body.append(tr);
    }
    for (const [i, { d }] of rows.entries()) this.fill(this.body.rows[i], d, now, serverNow);
    const total = this.devices.size;
    const matching = shown.length;
    this.note.textContent =
      (this.loadError ? `could not load devices: ${this.loadError} · ` : '') +
      `${total} devices · ${attention} need attention · ` +
      (matching > rows.length ? `showing ${rows.length} of ${matching} · ` : '') +
      (this.offlineSuffix ?? '');
    ages.sort((a, b) => a - b);
    // How old the newest position of a typical online rider is: GPS to screen, end to end.
    const fixAgeP50 = ages.length ? ages[Math.floor(ages.length / 2)] : null;
    return { online, offline: total - online, fixAgeP50 };
  }

  fill(tr, d, now, serverNow = this.seen.serverNow(now)) {
    const [idC, statusC, ageC, posC, speedC, seqC, gapsC, backlogC] = tr.cells;
    tr.dataset.device = d.deviceId;
    tr.classList.toggle('selected', d.deviceId === this.selected);
    setText(idC, d.deviceId);
    const on = this.online(d, now);
    if (statusC.dataset.state !== String(on)) {
      statusC.dataset.state = String(on);
      statusC.replaceChildren(el('span', `pill ${on ? 'online' : 'offline'}`, on ? 'online' : 'offline'));
    }
    const f = d.lastFix;
    const refusal = d.lastRejected;
    if (f) {
      setText(ageC, ago(serverNow - f.time));
      ageC.title = new Date(f.time).toISOString();
      setText(posC, `${f.lat.toFixed(5)}, ${f.lon.toFixed(5)}`);
      posC.title = '';
      setText(speedC, f.speed === undefined ? '–' : `${(f.speed * 3.6).toFixed(0)} km/h`);
    } else {
      // Heard from, but every fix it sent was refused: say so, and why, where a position would be.
      setText(ageC, '–');
      ageC.title = '';
      setText(posC, 'no valid fix');
      posC.title = refusal ? `refused: ${refusal.reason}` : '';
      setText(speedC, '–');
    }
    setText(seqC, String(Math.max(d.maxSeq ?? 0, f?.seq ?? 0, refusal?.seq ?? 0)));
    const gapsKey = `${d.missing}/${d.lost}/${d.rejected}/${d.stored}`;
    if (gapsC.dataset.key !== gapsKey) {
      gapsC.dataset.key = gapsKey;
      gapsC.replaceChildren();
      if (d.missing > 0) gapsC.append(el('span', 'badge pending', `${d.missing} pending`));
      if (d.lost > 0) gapsC.append(el('span', 'badge lost', `${d.lost} lost`));
      if (d.rejected > 0) gapsC.append(el('span', 'badge rejected', `${d.rejected} rejected`));
      // A device the database has not stored (the process runs without fix-store): no gap count exists.
      if (d.stored === false) gapsC.append(el('span', 'dim', 'not stored'));
      else if (d.missing === 0 && d.lost === 0 && !(d.rejected > 0)) gapsC.append(el('span', 'dim', 'none'));
    }
    gapsC.title =
      gapTitle(d.gaps ?? []) + (refusal ? `\nlast refused: seq ${refusal.seq}, ${refusal.reason}` : '');
    const backlog = d.backlogS > BACKLOG_S ? `${duration(d.backlogS * 1000)} behind` : '';
    if (backlogC.dataset.key !== backlog) {
      backlogC.dataset.key = backlog;
      backlogC.replaceChildren(backlog ? el('span', 'badge pending', backlog) : el('span', 'dim', '–'));
    }
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
