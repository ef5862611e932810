// With --max-clients above 1: commands that change the guest run one at a time across every
// connection, in the order they reach the dispatcher; read-only ones never wait (docs/extensions.md).
//
// Each connection's session has at most one request in the dispatcher, so at most
// max-clients − 1 commands ever wait here.

export class CommandGate {
  private running = false;
  private readonly waiting: (() => void)[] = [];

  /** Runs `fn` now if no gated command is running, else once those before it have finished. */
  run<T>(fn: () => T | Promise<T>): T | Promise<T> {
    if (!this.running) return this.start(fn);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push(() => {
        try {
          resolve(this.start(fn));
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** Gated commands waiting for their turn. */
  get queued(): number {
    return this.waiting.length;
  }

  private start<T>(fn: () => T | Promise<T>): T | Promise<T> {
    this.running = true;
    let result: T | Promise<T>;
    try {
      result = fn();
    } catch (err) {
      this.release();
      throw err;
    }
    if (result instanceof Promise) {
      return result.finally(() => this.release());
    }
    this.release();
    return result;
  }

  private release(): void {
    this.running = false;
    this.waiting.shift()?.();
  }
}
