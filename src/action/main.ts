/**
 * Entry point of the bundled action (dist/index.js). `reflect-metadata` comes first: the X.509
 * library it serves expects the Reflect API before any of its modules load.
 */
import 'reflect-metadata';
import { main } from './index.js';

await main();
