/**
 * The image catalog (`enclave/images.json`): the published enclave images, their measurements and
 * recipes, and the trusted-image list the verifier derives from it. Runtime-neutral; reading and
 * writing the file lives in `./node.js`.
 */
export * from './errors.js';
export * from './images.js';
