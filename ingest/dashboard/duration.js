// How long, in the page's one style: whole seconds, then minutes, hours, days (a replayed old
// capture is months behind; "247286712 s" tells nobody anything).

/** "42 s", "3 min", "5 h", "2862 d" (rounded down past a minute). */
export function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}
