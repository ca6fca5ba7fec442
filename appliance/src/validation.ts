import type { z } from 'zod';
import { RelayError } from './errors.ts';

/** Parses untrusted input, turning schema failures into a BAD_REQUEST that names each bad field. */
export function parseInput<T extends z.ZodTypeAny>(schema: T, input: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || what}: ${issue.message}`)
    .join('; ');
  throw new RelayError('BAD_REQUEST', `invalid ${what}: ${problems}`);
}
