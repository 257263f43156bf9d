// The ops dashboard: wires the live stream (SSE) to the map and the devices table, and polls
// the devices list and the consumer-group figures. Auth is the session cookie set at /login;
// EventSource and fetch send it on their own (same origin).
import { LineChart } from './charts.js';
import { duration } from './duration.js';
import { LastSeen } from './last-seen.js';
import { FleetMap } from './map.js';
import { DevicesTable } from './table.js';

const config = JSON.parse(document.getElementById('config').textContent);
const $ = (id) => document.getElementById(id);
/** Lag figures older than this (s) are stale: measured every 10 s, so the broker is not answering. */
const LAG_STALE_S = 30;

// When each device was last heard from, for the table, the KPIs and the map alike.
const seen = new LastSeen(config);
const map = new FleetMap($('map'), config, seen);
const table = new DevicesTable($('devices'), $('devices-note'), seen);
const serverNow = () => seen.serverNow();
// The DLQ is named after KAFKA_TOPIC, so its name comes from the server, not from this page.
if (config.dlqTopic) {
  $('dlq-label').title =
    `bad records seen since the ingest started (ingest_dlq_records_total); the ${config.dlqTopic} topic keeps them all`;
}
const lagChart = new LineChart($('lag-chart'), { empty: 'no consumer group metrics yet', now: serverNow });
const tputChart = new LineChart($('tput-chart'), {
  format: (v) => (v >= 100 ? String(Math.round(v)) : v.toFixed(1)),
  now: serverNow,
});
let liveEvents = 0;
let lastStats = null;
// When the server last answered a poll (local time), and whether the stream is open. A frozen
// server keeps the stream open and silent: only the polls going unanswered tell.
let lastAnswer = Date.now();
let streamState = 'connecting';
/** A request the server does not answer in this long has failed (a frozen process never does). */
const REQUEST_TIMEOUT_MS = 10_000;
/** No poll answered for this long: the page says it has no contact, whatever the stream says. */
const NO_CONTACT_MS = 10_000;

// Exposed for the browser test and for poking at from the devtools console.
window.fleetDashboard = {
  map,
  table,
  seen,
  stats: () => lastStats,
  charts: { lag: lagChart, tput: tputChart },
};

function setText(id, text, cls) {
  const e = $(id);
  e.textContent = text;
  if (cls !== undefined) e.className = `v ${cls}`;
}

/** `timing`, if given, gets the local times the request was `sent` and `answered` (headers in). */
async function getJson(path, timing) {
  const sent = Date.now();
  const res = await fetch(path, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (timing) Object.assign(timing, { sent, answered: Date.now() });
  if (res.status === 401) {
    location.href = '/login';
    throw new Error('session expired');
  }
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

function connect() {
  const es = new EventSource('/api/live');
  es.addEventListener('open', () => {
    streamState = 'live';
    showContact();
  });
  es.addEventListener('error', () => {
    streamState = 'reconnecting';
    showContact();
    // The browser retries by itself unless the server refused (e.g. the session expired): then
    // ask an API route, which sends us to /login on a 401, and open a new stream.
    if (es.readyState === EventSource.CLOSED) {
      setTimeout(() => {
        getJson('/api/stats')
          .then(connect)
          .catch(() => setTimeout(connect, 5000));
      }, 3000);
    }
  });
  es.addEventListener('fix', (e) => {
    const fix = JSON.parse(e.data);
    liveEvents++;
    // When the server took it, not when it got here: on (re)connect the stream replays every
    // device's newest position, however old.
    seen.heard(fix.deviceId, fix.receivedAt);
    map.update(fix);
    table.live(fix);
  });
  es.addEventListener('leave', (e) => map.remove(JSON.parse(e.data).deviceId));
}

/**
 * The devices list every 5 s; a big fleet's list is megabytes and the live stream already moves
 * the markers, so it is fetched less often (every 30 s from 2,000 devices on).
 */
async function pollDevicesForever() {
  await pollDevices();
  setTimeout(pollDevicesForever, table.devices.size >= 2000 ? 30_000 : 5000);
}

async function pollDevices() {
  try {
    const timing = {};
    const r = await getJson('/api/devices', timing);
    seen.sync(r.now, timing.sent, timing.answered);
    table.loadError = null;
    table.render(r.devices, r.offlineAfterS);
  } catch (e) {
    // Kept in the note until a load succeeds (the note is repainted every second).
    table.loadError = e.message;
    table.paint();
  }
}

async function pollStats() {
  try {
    const s = await getJson('/api/stats');
    const body = $('groups').tBodies[0];
    body.replaceChildren();
    for (const g of s.groups) {
      const prev = lastStats?.groups.find((p) => p.group === g.group);
      const dt = lastStats ? (s.time - lastStats.time) / 1000 : 0;
      // consumed counts from the ingest's start: lower than before means it restarted, and the
      // difference is no rate (no point, and the line breaks, rather than a fake drop to 0).
      const restarted = prev !== undefined && g.consumed < prev.consumed;
      const rate = prev && dt > 0 && !restarted ? (g.consumed - prev.consumed) / dt : null;
      if (restarted) tputChart.breakLine(g.group);
      // The lag is measured every 10 s; a figure older than 30 s is the last one before the
      // broker stopped answering, not the lag now: shown as such, and not plotted.
      const stale = g.lagAgeS !== null && g.lagAgeS > LAG_STALE_S;
      if (stale) lagChart.breakLine(g.group);
      else lagChart.add(g.group, s.time, g.lag);
      if (rate !== null) tputChart.add(g.group, s.time, rate);
      const tr = document.createElement('tr');
      tr.dataset.group = g.group;
      const name = document.createElement('td');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = lagChart.colourOf(g.group);
      name.append(sw, g.group);
      tr.append(name);
      for (const [cls, text, title] of [
        [
          stale ? 'num lag stale' : 'num lag',
          stale ? `${g.lag}?` : String(g.lag),
          stale ? `not measured for ${g.lagAgeS} s: the broker does not answer` : '',
        ],
        ['num', rate === null ? '–' : rate.toFixed(1)],
        ['num', String(g.consumed)],
      ]) {
        const td = document.createElement('td');
        td.className = cls;
        td.textContent = text;
        if (title) td.title = title;
        tr.append(td);
      }
      body.append(tr);
    }
    lagChart.draw();
    tputChart.draw();
    setText('dlq-count', String(s.dlq));
    $('dlq-kpi').classList.toggle('alert', s.dlq > 0);
    // Kafka away: the lag is not measured and riders will turn offline while their agents keep
    // every fix. Said in the open, not only in a cell's tooltip.
    const unmeasured = Math.max(
      0,
      ...s.groups.map((g) => (g.lagAgeS !== null && g.lagAgeS > LAG_STALE_S ? g.lagAgeS : 0)),
    );
    $('groups-note').hidden = unmeasured === 0;
    $('groups-note').textContent = unmeasured
      ? `Kafka has not answered for ${unmeasured} s: no lag measured, nothing consumed; agents keep their fixes until it is back`
      : '';
    $('groups').classList.remove('stale');
    $('dlq-kpi').classList.remove('stale');
    $('groups').title = '';
    lastStats = s;
    lastAnswer = Date.now();
    showContact();
  } catch {
    // The next poll tries again. The lines break here: nothing is known until the server answers
    // again; the figures shown are the last known ones, and marked so.
    lagChart.breakLine();
    tputChart.breakLine();
    const asOf = lastStats ? new Date(lastAnswer).toLocaleTimeString() : 'never';
    $('groups').classList.add('stale');
    $('dlq-kpi').classList.add('stale');
    $('groups').title = `last known figures (as of ${asOf}): the server does not answer`;
    showContact();
  }
}

/** The Stream KPI: the stream's own state, unless the server has stopped answering polls. */
function showContact() {
  const silentMs = Date.now() - lastAnswer;
  if (silentMs > NO_CONTACT_MS)
    setText('stream-state', `no answer for ${Math.round(silentMs / 1000)} s`, 'bad');
  else setText('stream-state', streamState, streamState === 'live' ? 'ok' : 'warn');
}

let lastCount = 0;
let lastTick = Date.now();
setInterval(() => {
  showContact();
  const now = Date.now();
  setText('live-rate', ((liveEvents - lastCount) / ((now - lastTick) / 1000)).toFixed(1));
  lastCount = liveEvents;
  lastTick = now;
  const { online, offline, fixAgeP50 } = table.paint();
  setText(
    'fix-age',
    fixAgeP50 === null ? '–' : `${(fixAgeP50 / 1000).toFixed(1)} s`,
    fixAgeP50 > 10_000 ? 'warn' : '',
  );
  setText('online-count', String(online), 'ok');
  setText('offline-count', String(offline), offline > 0 ? 'warn' : '');
  const { missing, lost } = table.totals();
  setText('missing-count', String(missing), missing > 0 ? 'warn' : '');
  setText('lost-count', String(lost), lost > 0 ? 'bad' : '');
  $('map-note').textContent = map.markers.size === 0 ? 'waiting for positions…' : '';
}, 1000);

$('fit').addEventListener('click', () => {
  selectDevice(null);
});

/**
 * Shows (or, for the selected one or null, clears) a device's last hour from the database: the
 * hour up to now, or for a device whose last fix is older than that (offline for days, a replayed
 * old capture), the hour up to its last fix, which "0 fixes in the last hour" left unseen.
 */
async function selectDevice(id) {
  const note = $('track-note');
  if (!id || id === table.selected) {
    table.selected = null;
    map.selected = null;
    note.hidden = true;
    map.setTrack(null);
    table.paint();
    return;
  }
  table.selected = id;
  map.selected = id;
  map.dirty = true;
  table.paint();
  const now = Date.now();
  const last = table.devices.get(id)?.lastFix?.time;
  const end = last !== undefined && last < now - 3600_000 ? last : undefined;
  const from = (end ?? now) - 3600_000;
  // [from, to): the last fix itself is in.
  const range = end === undefined ? `from=${from}` : `from=${from}&to=${end + 1}`;
  try {
    const r = await getJson(`/api/devices/${encodeURIComponent(id)}/track?${range}&limit=5000`);
    if (table.selected !== id) return; // another row was clicked meanwhile
    map.setTrack(id, r.fixes);
    const hour =
      end === undefined ? 'the last hour' : `the hour up to its last fix, ${duration(now - end)} ago`;
    note.textContent = `${id}: ${r.count} fixes in ${hour}${r.truncated ? ' (first 5000)' : ''}`;
  } catch (e) {
    if (table.selected !== id) return;
    note.textContent = `${id}: track not loaded (${e.message})`;
  }
  note.hidden = false;
}

map.onMarkerClick = (id) => selectDevice(id);
$('devices').tBodies[0].addEventListener('click', (e) => {
  const tr = e.target.closest('tr');
  if (tr?.dataset.device) selectDevice(tr.dataset.device);
});
$('device-filter').addEventListener('input', (e) => table.setFilter(e.target.value));
connect();
pollDevicesForever();
pollStats();
setInterval(pollStats, 2000);
