// One holder at a time for an async critical section (a transaction spanning awaits).
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    // The next holder waits for this one to finish, whether it succeeded or failed.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
