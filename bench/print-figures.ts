// How a benchmark run from the command line ends: its figures as JSON on stdout and exit 0, or
// the error's stack on stderr and exit 1. Exits explicitly: kafkajs and pg may leave sockets and
// timers behind, and the figures are what matters.
export function printFigures(run: () => Promise<unknown>): void {
  Promise.resolve()
    .then(run)
    .then(
      (f) => {
        process.stdout.write(`${JSON.stringify(f, null, 2)}\n`);
        process.exit(0);
      },
      (e) => {
        process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        process.exit(1);
      },
    );
}
