// Types of duration.js (plain JS, served to the browser as it is), for the tests that import it.
export function duration(ms: number): string;
