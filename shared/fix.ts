// The fix record: the one message that crosses from device to cloud.
// A Position is what the GPS receiver says for one epoch; a Fix is a Position that the
// agent's outbox has stamped with the device id and its per-device sequence number.

/** Fix mode as NMEA GSA reports it: 2 = 2D (no altitude), 3 = 3D. No fix is never a position. */
export type FixMode = 2 | 3;

export interface Position {
  /** GNSS UTC time of the epoch, milliseconds since 1970-01-01T00:00:00Z (never the Pi's clock). */
  time: number;
  /** WGS84 latitude, degrees, -90..90. */
  lat: number;
  /** WGS84 longitude, degrees, -180..180. */
  lon: number;
  /** Altitude above mean sea level, metres. */
  alt?: number;
  /** Speed over ground, metres per second. */
  speed?: number;
  /** Course over ground, degrees true, 0 <= course < 360. */
  course?: number;
  /** Horizontal dilution of precision. */
  hdop?: number;
  /** Satellites used in the solution. */
  sats?: number;
  mode: FixMode;
  /** GGA fix quality: 1 GPS, 2 DGPS, 4 RTK fixed, 5 RTK float, 6 dead reckoning ... (absent without GGA). */
  quality?: number;
}

export interface Fix extends Position {
  /** Device id, 1..64 bytes of UTF-8. */
  deviceId: string;
  /** Per-device sequence number from the outbox: starts at 1, +1 per fix, survives restarts. */
  seq: number;
  /**
   * Highest seq this device's outbox ever dropped unsent (outbox full). Every seq at or below it
   * that never reached the cloud is lost for good, not late; absent when nothing was dropped.
   */
  droppedThrough?: number;
}
