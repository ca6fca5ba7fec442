import { readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { templatesDir } from './paths.ts';

/** Copies a template into the bundle, filling `{{NAME}}` placeholders; scripts are made executable. */
export async function writeTemplate(
  name: string,
  target: string,
  values: Record<string, string> = {},
): Promise<void> {
  const text = readFileSync(join(templatesDir, name), 'utf8').replace(/\{\{([A-Z_]+)\}\}/g, (match, key) => {
    const value = values[key as string];
    if (value === undefined) throw new Error(`template ${name} needs a value for ${match}`);
    return value;
  });
  const executable = name.endsWith('.sh');
  await writeFile(target, text, { mode: executable ? 0o755 : 0o644 });
  if (executable) await chmod(target, 0o755);
}

/** A value for a POSIX sh file: single-quoted, with embedded single quotes closed and reopened. */
export const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;
