/**
 * Version of the worker, recorded in every provenance (`runDetails.builder.version`). Kept equal
 * to package.json's version (a test checks it): the worker ships as one bundled file without it.
 */
export const WORKER_VERSION = '0.1.0';
