import { describe, expect, it } from '@jest/globals';
import { runFetchTool } from '../../src/provenance/depset/tool.js';
import { tempDir } from '../support/source/provenance-git.js';

const base = (): { cwd: string; env: NodeJS.ProcessEnv } => ({ cwd: tempDir(), env: process.env });

describe('running the tool that fetches a dependency set', () => {
  it('when the tool exits 0, it resolves', async () => {
    await expect(runFetchTool('sh', ['-c', 'exit 0'], { ...base(), label: 'sh' })).resolves.toBe(
      undefined,
    );
  });

  it('when the tool cannot be started, it refuses with DEPENDENCY_FETCH_FAILED naming the tool', async () => {
    const p = runFetchTool('tee-compile-no-such-tool', ['fetch'], { ...base(), label: 'x fetch' });
    await expect(p).rejects.toHaveCode('DEPENDENCY_FETCH_FAILED');
    await expect(p).rejects.toThrow(/^cannot run tee-compile-no-such-tool: /);
  });

  it('when the tool fails, it refuses with DEPENDENCY_FETCH_FAILED and the reason from its stderr', async () => {
    const script =
      'echo "  " >&2; echo "   Updating index" >&2; echo "error: no such crate" >&2; exit 101';
    const plain = runFetchTool('sh', ['-c', script], { ...base(), label: 'cargo fetch' });
    await expect(plain).rejects.toHaveCode('DEPENDENCY_FETCH_FAILED');
    await expect(plain).rejects.toThrow('Updating index');
    const chosen = runFetchTool('sh', ['-c', script], {
      ...base(),
      label: 'cargo fetch',
      reason: (stderr) => stderr.split('\n').find((l) => l.startsWith('error')) ?? '',
    });
    await expect(chosen).rejects.toThrow('error: no such crate');
  });
});
