export type BundleErrorCode =
  /** The signing appliance's CA directory is not there. */
  | 'CA_MISSING'
  /** A flag or an input file is wrong (bad URL, a model file with an unusable name, ...). */
  | 'BAD_ARGUMENT'
  /** The output directory already holds something that is not an earlier bundle. */
  | 'OUT_DIR_TAKEN'
  /** A file the bundle is made of is not in the repository. */
  | 'SOURCE_MISSING'
  /** A build step failed (esbuild, tar, docker). */
  | 'BUILD_FAILED';

/** One error class for the bundle builders; the code says which failure, the message what to do. */
export class BundleError extends Error {
  constructor(
    readonly code: BundleErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BundleError';
  }
}
