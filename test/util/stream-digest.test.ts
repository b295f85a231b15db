import { describe, expect, it } from '@jest/globals';
import { crc32, crc32Table } from '../../src/util/stream-digest.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('CRC-32 over pieces', () => {
  it('when the pieces are cut anywhere, the CRC is the one of the whole (the check value 0xcbf43926)', () => {
    const whole = bytes('123456789');
    expect(crc32(whole)).toBe(0xcbf43926);
    for (let cut = 0; cut <= whole.length; cut++)
      expect(crc32(whole.subarray(cut), crc32(whole.subarray(0, cut)))).toBe(0xcbf43926);
  });

  it('when a piece is empty, the CRC carries on unchanged, whatever memory the empty view has', () => {
    // `Buffer.from('')` and views of it have no memory behind them: Node's zlib gives 0 for
    // them, whatever the CRC before.
    const empty = Buffer.from('');
    const views = [
      empty,
      Buffer.from(empty.buffer, empty.byteOffset, 0).subarray(0, 0),
      Buffer.alloc(0),
      new Uint8Array(0),
      bytes('abc').subarray(1, 1),
    ];
    const before = crc32(bytes('1234'));
    for (const v of views) {
      expect(crc32(v, before)).toBe(before);
      expect(crc32(bytes('56789'), crc32(v, before))).toBe(0xcbf43926);
    }
    expect(crc32(empty)).toBe(0);
  });

  it('when the native CRC and the table agree, on every length up to a few blocks', () => {
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + 7) & 0xff));
    for (const n of [0, 1, 7, 8, 255, 256, 1024, 3000])
      expect(crc32(data.subarray(0, n), 0x12345678)).toBe(
        crc32Table(data.subarray(0, n), 0x12345678),
      );
  });
});
