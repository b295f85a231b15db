/** Entry point of the bundled action (dist/index.js). */
import { main } from './index.js';

await main();
