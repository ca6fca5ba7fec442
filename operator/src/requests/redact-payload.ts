import { redactText } from '../redact/index.ts';

/** Redacts every string inside a vault payload, keeping its shape, before the payload leaves the host. */
export function redactPayload(value: unknown): unknown {
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map(redactPayload);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactPayload(v)]));
  return value;
}
