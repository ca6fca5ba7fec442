// `npm run bundle:appliance`: the compose install for a site without internet (see docs/INSTALL.md).
import { resolve } from 'node:path';
import { buildApplianceBundle } from './lib/appliance-bundle.ts';
import { runBuilder, stringOption, type BuilderCommand } from './lib/cli.ts';
import { megabytes } from './lib/progress.ts';

const command: BuilderCommand = {
  name: 'bundle:appliance',
  summary:
    'build the offline (USB) appliance bundle: compose files, images when Docker answers, models, signed',
  usage: 'npm run bundle:appliance -- [--out DIR] [--ca-dir DIR] [--models DIR]',
  optionHelp: [
    '--out DIR           where to write the bundle directory and its .tar (default ./dist)',
    '--ca-dir DIR        the CA directory whose bundle-signing key signs it (default .dropops-appliance/pki)',
    '--models DIR        an Ollama models directory (blobs/, manifests/) to carry, e.g. ~/.ollama/models',
  ],
  options: { out: { type: 'string' }, 'ca-dir': { type: 'string' }, models: { type: 'string' } },
  async run(values) {
    const models = stringOption(values, 'models');
    const bundle = await buildApplianceBundle({
      outDir: resolve(stringOption(values, 'out') ?? 'dist'),
      caDir: resolve(stringOption(values, 'ca-dir') ?? '.dropops-appliance/pki'),
      models: models && resolve(models),
    });
    process.stdout.write(
      [
        `bundle:   ${bundle.dir} (${bundle.files} files, ${megabytes(bundle.bytes)})`,
        `archive:  ${bundle.archive} (${megabytes(bundle.archiveBytes)})`,
        `images:   ${bundle.images.length ? bundle.images.join(', ') : `NONE: ${bundle.imagesSkipped}`}`,
        `models:   ${bundle.modelFiles} files`,
        ...(bundle.missing.length
          ? [`missing:  ${bundle.missing.join(', ')} (not in the repository yet)`]
          : []),
        `signed by ${bundle.fingerprint} (compare on the target: ./verify.sh prints the key it finds)`,
        `built in ${bundle.seconds.toFixed(1)} s`,
        '',
      ].join('\n'),
    );
  },
};

process.exitCode = await runBuilder(command, process.argv.slice(2));
