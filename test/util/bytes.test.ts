import { describe, expect, it } from '@jest/globals';
import { chunksOf, collect, concatBytes, fromReadable } from '../../src/util/bytes.js';

async function* stream(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

describe('byte helpers', () => {
  it('when concatenating, it copies the parts back to back into a new buffer', () => {
    const a = Uint8Array.of(1, 2);
    const out = concatBytes([a, new Uint8Array(0), Uint8Array.of(3)]);
    expect(out).toEqual(Uint8Array.of(1, 2, 3));
    expect(concatBytes([a])).not.toBe(a);
    expect(concatBytes([])).toEqual(new Uint8Array(0));
  });

  it('when collecting a stream, it joins the chunks, and returns a lone chunk as it is', async () => {
    const a = Uint8Array.of(1);
    expect(await collect(stream(a, Uint8Array.of(2, 3)))).toEqual(Uint8Array.of(1, 2, 3));
    expect(await collect(stream(a))).toBe(a);
    expect(await collect(stream())).toEqual(new Uint8Array(0));
  });

  it('when splitting a buffer into chunks, they are views of at most the chunk size', async () => {
    const b = Uint8Array.of(1, 2, 3, 4, 5);
    const parts: Uint8Array[] = [];
    for await (const c of chunksOf(b, 2)) parts.push(c);
    expect(parts).toEqual([Uint8Array.of(1, 2), Uint8Array.of(3, 4), Uint8Array.of(5)]);
    expect(parts[0]!.buffer).toBe(b.buffer);
  });

  it('when reading a ReadableStream, it yields its chunks and releases the lock when stopped early', async () => {
    const rs = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(Uint8Array.of(1));
        c.enqueue(Uint8Array.of(2));
        c.close();
      },
    });
    for await (const c of fromReadable(rs)) {
      expect(c).toEqual(Uint8Array.of(1));
      break;
    }
    expect(rs.locked).toBe(false);
    expect(await collect(fromReadable(rs))).toEqual(Uint8Array.of(2));
  });
});
