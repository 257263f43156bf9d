// Writes a synthetic NMEA capture: a rider moving at ~8 m/s on a straight street, one RMC + GGA
// epoch per second with increasing GNSS time. The end-to-end tests replay it through the real
// agent (framer, nmea-simple, epoch assembler), so positions move forward in time as a real
// receiver's do, for as many epochs as a test needs.
import { writeFileSync } from 'node:fs';

const checksum = (body: string) => {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i);
  return x.toString(16).toUpperCase().padStart(2, '0');
};
const sentence = (body: string) => `$${body}*${checksum(body)}\r\n`;

function dm(deg: number, degDigits: number): string {
  const a = Math.abs(deg);
  const d = Math.floor(a);
  const m = (a - d) * 60;
  return `${String(d).padStart(degDigits, '0')}${m.toFixed(5).padStart(8, '0')}`;
}

const two = (n: number) => String(n).padStart(2, '0');

export interface TrackOptions {
  epochs: number;
  /** GNSS time of the first epoch (ms, whole second). */
  startMs: number;
  lat?: number;
  lon?: number;
}

export function writeNmeaTrack(path: string, o: TrackOptions): void {
  const speed = 8; // m/s
  const course = 45;
  let lat = o.lat ?? 52.52;
  let lon = o.lon ?? 13.405;
  let text = '';
  for (let i = 0; i < o.epochs; i++) {
    const t = new Date(o.startMs + i * 1000);
    const hms = `${two(t.getUTCHours())}${two(t.getUTCMinutes())}${two(t.getUTCSeconds())}.00`;
    const date = `${two(t.getUTCDate())}${two(t.getUTCMonth() + 1)}${two(t.getUTCFullYear() % 100)}`;
    const ns = lat >= 0 ? 'N' : 'S';
    const ew = lon >= 0 ? 'E' : 'W';
    const la = dm(lat, 2);
    const lo = dm(lon, 3);
    text += sentence(
      `GPRMC,${hms},A,${la},${ns},${lo},${ew},${(speed * 1.943844).toFixed(2)},${course.toFixed(1)},${date},,,A`,
    );
    text += sentence(`GPGGA,${hms},${la},${ns},${lo},${ew},1,09,0.9,42.0,M,44.0,M,,`);
    // Move ~8 m north-east for the next second.
    lat += (speed * Math.cos((course * Math.PI) / 180)) / 111_320;
    lon += (speed * Math.sin((course * Math.PI) / 180)) / (111_320 * Math.cos((lat * Math.PI) / 180));
  }
  writeFileSync(path, text);
}
