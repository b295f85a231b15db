import { it, expect } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBuild } from '../../src/client/run-build.js';
import { NitroBackend } from '../../src/enclave/nitro.js';
import { exampleRepo } from '../support/build-repo.js';
import { createStandinHost } from '../support/nitro-standin.js';
import { runCli } from '../support/cli.js';
it('smoke build', async () => {
  const h = await createStandinHost({ workerEntry: join(process.cwd(), 'lib/worker/main.js') });
  const repo = await exampleRepo('go-hello');
  const out = join(await mkdtemp(join(tmpdir(), 'tc-out-')), 'b.tar.gz');
  try {
    const backend = new NitroBackend(h.backendConfig(), {
      catalog: h.catalog,
      log: (m) => console.log(m),
    });
    const r = await runBuild({
      dir: repo.dir,
      out,
      backend,
      catalog: h.catalog,
      onEvent: (e) => e.type !== 'log' && console.log(JSON.stringify(e).slice(0, 200)),
    });
    console.log(r);
    const v = await runCli(['verify', out, '--allow-simulated']);
    console.log(v);
    console.log(h.enclaves(), h.runCalls());
  } finally {
    const { execSync } = await import('node:child_process');
    console.log(
      execSync(
        `tail -n 30 ${h.stateDir}/enclaves/*.console; ls -la ${h.stateDir}/enclaves/*/build`,
      ).toString(),
    );
    await h.remove();
    await repo.remove();
  }
  expect(1).toBe(1);
});
