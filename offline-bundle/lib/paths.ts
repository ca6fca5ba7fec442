import { fileURLToPath } from 'node:url';

/** The repository the bundles are built from, and the script templates shipped inside them. */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
export const templatesDir = fileURLToPath(new URL('../templates/', import.meta.url));
