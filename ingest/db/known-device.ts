// Whether the database has heard of a device (store.ts knowsDevice): a stored fix (devices) or a
// refused one (rejected_devices), both looked up by primary key. Each parameter is the device id.
export const KNOWS_DEVICE_SQL = `SELECT CASE
  WHEN EXISTS (SELECT 1 FROM devices WHERE device_id = $1)
    OR EXISTS (SELECT 1 FROM rejected_devices WHERE device_id = $2) THEN 1 ELSE 0 END AS known`;
