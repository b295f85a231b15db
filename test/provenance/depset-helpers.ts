/** Re-exports for the dependency-set tests (and the internal walker, to assert layouts). */
export { checkDependencySet, fetchDependencySet } from '../../src/provenance/node.js';
export { listTree as listTreeForTests } from '../../src/provenance/depset/files.js';
