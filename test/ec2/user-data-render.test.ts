import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { MAX_USER_DATA_BYTES, renderUserData } from '../../src/ec2/index.js';
import type { UserDataInput } from '../../src/ec2/index.js';

const input = (over: Partial<UserDataInput> = {}): UserDataInput => ({
  label: 'tee-compile-0123456789abcdef',
  maxMinutes: 90,
  teeCompileVersion: '0.1.0',
  allocator: { cpuCount: 6, memoryMiB: 29696 },
  images: ['rust', 'node', 'go'].map((n) => ({
    name: n,
    version: '0.1.0',
    url: `https://images.example/${n}-0.1.0.eif`,
    sha256: 'c'.repeat(64),
    size: 1,
  })),
  runnerVersion: '2.321.0',
  runnerSha256: 'd'.repeat(64),
  jitConfig: Buffer.from(JSON.stringify({ '.runner': 'x'.repeat(3000) })).toString('base64'),
  ...over,
});

function shellcheck(script: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const c = execFile('shellcheck', ['-s', 'bash', '-'], (e, out) =>
      resolve({ code: e ? Number(e.code) : 0, out }),
    );
    c.stdin!.end(script);
  });
}

describe('when the user data is generated', () => {
  it('is shellcheck-clean and within the 16 KiB EC2 takes', async () => {
    const s = renderUserData(input());
    expect(await shellcheck(s)).toEqual({ code: 0, out: '' });
    expect(Buffer.byteLength(s)).toBeLessThanOrEqual(MAX_USER_DATA_BYTES);
    expect(s.startsWith('#!/bin/bash\n')).toBe(true);
    expect(s).toContain(
      "fetch_checked 'https://images.example/go-0.1.0.eif' '" + 'c'.repeat(64) + "'",
    );
  });

  it('refuses a value that could break out of its quotes', () => {
    expect(() => renderUserData(input({ jitConfig: "abc'; reboot; '" + 'A'.repeat(20) }))).toThrow(
      expect.objectContaining({ path: 'encoded_jit_config' }),
    );
    expect(() =>
      renderUserData(
        input({
          images: [
            {
              name: 'go',
              version: '0.1.0',
              url: "https://x.example/a'b.eif",
              sha256: 'c'.repeat(64),
              size: 1,
            },
          ],
        }),
      ),
    ).toThrow(expect.objectContaining({ path: 'image URL' }));
  });

  it('refuses a script larger than EC2 takes', () => {
    expect(() =>
      renderUserData(
        input({
          jitConfig: 'A'.repeat(12000) + '='.repeat(0),
          images: Array.from({ length: 40 }, (_, i) => ({
            name: `img${i}`,
            version: '0.1.0',
            url: `https://images.example/img${i}-0.1.0.eif`,
            sha256: 'c'.repeat(64),
            size: 1,
          })),
        }),
      ),
    ).toThrow(expect.objectContaining({ code: 'OPTION_INVALID' }));
  });
});
