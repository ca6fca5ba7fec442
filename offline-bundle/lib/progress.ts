/** Numbered step lines with their timings on stderr, so a long build shows where it is. */
export interface Progress {
  step<T>(title: string, work: () => Promise<T> | T, detail?: (result: T) => string): Promise<T>;
  note(text: string): void;
}

export function stepProgress(
  total: number,
  write = (text: string) => void process.stderr.write(text),
): Progress {
  let done = 0;
  return {
    async step(title, work, detail) {
      done += 1;
      write(`[${done}/${total}] ${title} ... `);
      const started = performance.now();
      try {
        const result = await work();
        const seconds = ((performance.now() - started) / 1000).toFixed(1);
        write(`${seconds} s${detail ? ` (${detail(result)})` : ''}\n`);
        return result;
      } catch (err) {
        write('failed\n');
        throw err;
      }
    },
    note(text) {
      write(`      ${text}\n`);
    },
  };
}

export const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
