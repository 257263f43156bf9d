// A simulated rider on a city street grid: rides from corner to corner at 3-12 m/s (accelerating
// and braking like a bike, not teleporting), waits at some corners (lights), stops now and then
// for a delivery, and turns at random but never leaves the grid.
import type { Position } from '../../shared/fix.js';
import { between, type Random } from './random.js';

export interface CityGrid {
  /** South-west corner of the grid. */
  lat0: number;
  lon0: number;
  /** Distance between parallel streets, metres. */
  blockM: number;
  /** Streets each way. */
  size: number;
}

export const DEFAULT_CITY: CityGrid = { lat0: 52.5, lon0: 13.37, blockM: 120, size: 25 };

const M_PER_DEG_LAT = 111_320;
const ACCEL = 1.5; // m/s², a bike pulling away
const BRAKE = 2.5; // m/s²
/** [dx, dy] in blocks for N, E, S, W; course in degrees. */
const DIRS: readonly { dx: number; dy: number; course: number }[] = [
  { dx: 0, dy: 1, course: 0 },
  { dx: 1, dy: 0, course: 90 },
  { dx: 0, dy: -1, course: 180 },
  { dx: -1, dy: 0, course: 270 },
];

/** Where a rider is and what it is doing: enough to carry on after a restart. */
export interface RiderState {
  x: number;
  y: number;
  dir: number;
  speed: number;
  cruise: number;
  waitS: number;
  stopNext: number;
}

export class Rider {
  /** Position in metres from the grid's south-west corner. */
  private x: number;
  private y: number;
  private dir: number;
  private speed = 0;
  private cruise: number;
  private waitS = 0;
  /** Whether to stop at the corner being approached, and for how long. */
  private stopNext: number;

  constructor(
    private readonly city: CityGrid,
    private readonly rnd: Random,
  ) {
    this.x = Math.floor(rnd() * city.size) * city.blockM;
    this.y = Math.floor(rnd() * city.size) * city.blockM;
    this.dir = Math.floor(rnd() * 4);
    this.turnIfAtEdge();
    this.cruise = between(rnd, 3, 12);
    this.stopNext = this.planStop();
  }

  snapshot(): RiderState {
    const { x, y, dir, speed, cruise, waitS, stopNext } = this;
    return { x, y, dir, speed, cruise, waitS, stopNext };
  }

  /** Carries on from a snapshot; false (and unchanged) when it does not fit this grid. */
  restore(s: Partial<RiderState>): boolean {
    const max = (this.city.size - 1) * this.city.blockM;
    const finite = [s.x, s.y, s.speed, s.cruise, s.waitS, s.stopNext].every((v) => Number.isFinite(v));
    if (!finite || !Number.isInteger(s.dir) || s.dir! < 0 || s.dir! > 3) return false;
    if (s.x! < 0 || s.y! < 0 || s.x! > max || s.y! > max) return false;
    Object.assign(this, {
      x: s.x,
      y: s.y,
      dir: s.dir,
      speed: s.speed,
      cruise: s.cruise,
      waitS: s.waitS,
      stopNext: s.stopNext,
    });
    return true;
  }

  /** Advances one second and returns where the rider is at GNSS time `time`. */
  step(time: number): Position {
    if (this.waitS > 0) {
      this.waitS--;
      this.speed = 0;
    } else {
      this.ride(1);
    }
    const { city } = this;
    const lat = city.lat0 + this.y / M_PER_DEG_LAT;
    const lon = city.lon0 + this.x / (M_PER_DEG_LAT * Math.cos((city.lat0 * Math.PI) / 180));
    // Receiver noise: a metre or two, more hdop and fewer satellites now and then.
    const noise = () => (this.rnd() - 0.5) * 3e-5;
    return {
      time,
      lat: round(lat + noise() / 2, 7),
      lon: round(lon + noise() / 2, 7),
      alt: round(34 + between(this.rnd, -1.5, 1.5), 1),
      speed: round(this.speed, 2),
      course: DIRS[this.dir]!.course,
      hdop: round(between(this.rnd, 0.7, 1.6), 1),
      sats: 7 + Math.floor(this.rnd() * 6),
      mode: 3,
      quality: 1,
    };
  }

  private ride(dt: number): void {
    const d = DIRS[this.dir]!;
    const toCorner = this.distanceToCorner();
    // Brake in time for a corner where we stop (v² = 2ad), else hold the cruise speed.
    const limit = this.stopNext > 0 ? Math.sqrt(2 * BRAKE * toCorner) : this.cruise;
    const target = Math.min(this.cruise, limit);
    this.speed =
      target > this.speed
        ? Math.min(target, this.speed + ACCEL * dt)
        : Math.max(target, this.speed - BRAKE * dt);
    let move = this.speed * dt;
    if (move >= toCorner) {
      // Reached the corner: snap to it, then stop or carry on round the corner.
      move = toCorner;
      this.x += d.dx * move;
      this.y += d.dy * move;
      this.x = Math.round(this.x / this.city.blockM) * this.city.blockM;
      this.y = Math.round(this.y / this.city.blockM) * this.city.blockM;
      if (this.stopNext > 0) {
        this.waitS = this.stopNext;
        this.speed = 0;
      }
      this.chooseTurn();
      this.cruise = between(this.rnd, 3, 12);
      this.stopNext = this.planStop();
      return;
    }
    this.x += d.dx * move;
    this.y += d.dy * move;
  }

  private distanceToCorner(): number {
    const d = DIRS[this.dir]!;
    const along = d.dx !== 0 ? this.x : this.y;
    const b = this.city.blockM;
    const next = d.dx + d.dy > 0 ? Math.floor(along / b + 1e-9) * b + b : Math.ceil(along / b - 1e-9) * b - b;
    const dist = Math.abs(next - along);
    return dist < 1e-6 ? b : dist;
  }

  /** Stop at the next corner? Lights 30% (5-40 s), a delivery 3% (1-4 min); 0 = ride through. */
  private planStop(): number {
    const r = this.rnd();
    if (r < 0.03) return Math.round(between(this.rnd, 60, 240));
    if (r < 0.33) return Math.round(between(this.rnd, 5, 40));
    return 0;
  }

  private chooseTurn(): void {
    const r = this.rnd();
    // Mostly straight on, sometimes left or right, rarely back.
    const turn = r < 0.55 ? 0 : r < 0.77 ? 1 : r < 0.97 ? 3 : 2;
    this.dir = (this.dir + turn) % 4;
    this.turnIfAtEdge();
  }

  private turnIfAtEdge(): void {
    const max = (this.city.size - 1) * this.city.blockM;
    for (let i = 0; i < 4; i++) {
      const d = DIRS[this.dir]!;
      const nx = this.x + d.dx * this.city.blockM;
      const ny = this.y + d.dy * this.city.blockM;
      if (nx >= -1e-6 && ny >= -1e-6 && nx <= max + 1e-6 && ny <= max + 1e-6) return;
      this.dir = (this.dir + 1) % 4;
    }
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
