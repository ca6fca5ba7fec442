import type { Middleware } from 'koa';

/** HTTP requests being answered right now, so a drain can wait for them (an exec request waits for its run). */
export class InFlightRequests {
  private active = 0;

  get count(): number {
    return this.active;
  }

  middleware(): Middleware {
    return async (_ctx, next) => {
      this.active++;
      try {
        await next();
      } finally {
        this.active--;
      }
    };
  }
}
