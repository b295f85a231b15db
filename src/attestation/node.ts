/** Node-only half of the attestation module: signature checks on node:crypto (faster than Web Crypto). */
export { nodeCryptoVerifier } from './node-crypto.js';
