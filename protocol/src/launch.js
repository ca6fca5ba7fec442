// The bins are plain JavaScript so that `npx` can start them; they load the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();

/** Runs a CLI module's `main(argv)` and exits with its code. */
export async function launch(moduleUrl) {
  const { main } = await import(moduleUrl.href);
  process.exitCode = await main(process.argv.slice(2));
}
