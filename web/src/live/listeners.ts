// A set of callbacks to tell of something, each added with the function that removes it.

export class Listeners<T extends unknown[] = []> {
  private readonly set = new Set<(...args: T) => void>();

  /** Adds `listener`; returns what removes it. */
  add(listener: (...args: T) => void): () => void {
    // A wrapper of its own, so that the same function added twice is removed once per add.
    const own = (...args: T) => {
      listener(...args);
    };
    this.set.add(own);
    return () => {
      this.set.delete(own);
    };
  }

  /** Calls every listener; one added meanwhile waits for the next time, one removed meanwhile
   * is not called. */
  emit(...args: T): void {
    for (const listener of [...this.set]) {
      if (this.set.has(listener)) listener(...args);
    }
  }

  get size(): number {
    return this.set.size;
  }
}
