import type { ErrorCode } from '@dropops/protocol';

/** A request refused before anything was changed: the wire code and a sentence the requester can act on. */
export class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'Refusal';
  }
}
