// `npm run bundle:operator`: the operator bundle for a server without internet (see docs/INSTALL.md).
import { resolve } from 'node:path';
import { runBuilder, stringOption, type BuilderCommand } from './lib/cli.ts';
import { buildOperatorBundle } from './lib/operator-bundle.ts';
import { megabytes } from './lib/progress.ts';

const command: BuilderCommand = {
  name: 'bundle:operator',
  summary: 'build the offline (USB) operator bundle: Node runtime, one-file operator, signed manifest, SBOM',
  usage: 'npm run bundle:operator -- [--out DIR] [--ca-dir DIR] [--relay URL]',
  optionHelp: [
    '--out DIR           where to write the bundle directory and its .tar.gz (default ./dist)',
    "--ca-dir DIR        the signing appliance's CA directory, <data-dir>/pki (default .dropops-appliance/pki)",
    '--relay URL         the URL operators dial (https://host:port), built in so install.sh needs only the key',
  ],
  options: { out: { type: 'string' }, 'ca-dir': { type: 'string' }, relay: { type: 'string' } },
  async run(values) {
    const bundle = await buildOperatorBundle({
      outDir: resolve(stringOption(values, 'out') ?? 'dist'),
      caDir: resolve(stringOption(values, 'ca-dir') ?? '.dropops-appliance/pki'),
      relay: stringOption(values, 'relay'),
    });
    process.stdout.write(
      [
        `bundle:   ${bundle.dir} (${bundle.files} files, ${megabytes(bundle.bytes)})`,
        `archive:  ${bundle.archive} (${megabytes(bundle.archiveBytes)})`,
        `node:     ${bundle.nodeVersion}`,
        `CA pin:   ${bundle.caPin}`,
        `signed by ${bundle.fingerprint}`,
        '  On the target host, ./verify.sh prints the fingerprint of the key in the bundle: compare it with',
        '  this one, read from the appliance (dropops-pki bundle-key), never from the stick.',
        `built in ${bundle.seconds.toFixed(1)} s`,
        '',
      ].join('\n'),
    );
  },
};

process.exitCode = await runBuilder(command, process.argv.slice(2));
