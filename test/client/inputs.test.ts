import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CONFIG_BYTES, readProjectConfig } from '../../src/client/inputs.js';

describe("reading the project's build.json", () => {
  const dir = mkdtempSync(join(tmpdir(), 'client-inputs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('when build.json is valid, it returns the config and the exact bytes read', async () => {
    const text = '{"language": "go", "input": {"cmd": "go build"}, "output": {"files": ["app"]}}';
    writeFileSync(join(dir, 'build.json'), text);
    const p = await readProjectConfig(dir);
    expect(p.file).toBe(join(dir, 'build.json'));
    expect(p.config.language).toBe('go');
    expect(Buffer.from(p.bytes).toString('utf8')).toBe(text);
  });

  it('when build.json is missing, it refuses with CONFIG_MISSING naming the file', async () => {
    const file = join(dir, 'absent.json');
    await expect(readProjectConfig(dir, file)).rejects.toHaveCode('CONFIG_MISSING');
    await expect(readProjectConfig(dir, file)).rejects.toThrow(`${file} does not exist`);
  });

  it('when build.json is larger than the bound, it refuses with CONFIG_INVALID naming the bound', async () => {
    const file = join(dir, 'big.json');
    writeFileSync(file, ' '.repeat(MAX_CONFIG_BYTES + 1));
    await expect(readProjectConfig(dir, file)).rejects.toHaveCode('CONFIG_INVALID');
  });

  it('when build.json is a directory, it refuses with CONFIG_INVALID', async () => {
    const file = join(dir, 'sub');
    mkdirSync(file);
    await expect(readProjectConfig(dir, file)).rejects.toHaveCode('CONFIG_INVALID');
    await expect(readProjectConfig(dir, file)).rejects.toThrow(`${file} is not a regular file`);
  });
});
