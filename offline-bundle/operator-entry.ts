// The bundle's entry point: the operator's command line, without tsx (esbuild has compiled it).
import { main } from '../operator/src/cli.ts';

process.exitCode = await main(process.argv.slice(2));
