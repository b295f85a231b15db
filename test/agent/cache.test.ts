/**
 * The agent's dependency cache: a build holds the set it uses (a hard link), so eviction skips it;
 * pruning evicts least recently used sets down to `retention.maxCacheBytes`; a data directory over
 * its budget evicts unused sets before answering 507; what a crash left is removed at start.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, lstat, mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { DependencyCache } from '../../src/agent/cache.js';
import { prepareInputs } from '../../src/client/inputs.js';
import {
  ScriptedExecutor,
  StandInBackend,
  scriptedConfig,
  scriptedSource,
} from '../support/agent/agent-fakes.js';
import type { TestAgent } from '../support/agent/agent-harness.js';
import {
  json,
  postBuild,
  removeDir,
  startTestAgent,
  tempDir,
  waitFinished,
} from '../support/agent/agent-harness.js';
import { writeProject } from '../support/source/agent-sources.js';
import { addGoModule } from '../support/source/provenance-depset.js';

const ENTRY_BYTES = 200_000;

let work: string;
let zipB64: string;

function submit(agent: TestAgent, cmd: string): Promise<Response> {
  return postBuild(agent, { source_data: zipB64, config: scriptedConfig(cmd) });
}

/** The cache entry of `label` (named as the pipeline names them). */
function entryName(label: string): string {
  return `${createHash('sha256').update(label).digest('hex')}.tar`;
}

/** Writes cache entries of ENTRY_BYTES each, last used in the order given (oldest first). */
async function fillCache(depsets: string, labels: string[]): Promise<void> {
  await mkdir(depsets, { recursive: true });
  const base = Date.now() / 1000 - 3600;
  for (const [i, label] of labels.entries()) {
    const file = join(depsets, entryName(label));
    await writeFile(file, Buffer.alloc(ENTRY_BYTES, i));
    await utimes(file, base + i * 60, base + i * 60);
  }
}

/** Holds an entry as a running build does. */
async function hold(depsets: string, label: string): Promise<void> {
  await link(join(depsets, entryName(label)), join(depsets, `.hold-${label}.tar`));
}

async function cached(depsets: string): Promise<string[]> {
  const names = await readdir(depsets);
  return ['a', 'b', 'c', 'd', 'e'].filter((l) => names.includes(entryName(l)));
}

function evicted(agent: TestAgent): [string, unknown][] {
  const label = new Map(['a', 'b', 'c', 'd', 'e'].map((l) => [entryName(l), l]));
  return agent.logs
    .filter((l) => l.msg === 'dependency set evicted')
    .map((l) => [label.get(String(l.entry)) ?? String(l.entry), l.reason]);
}

beforeAll(async () => {
  work = await tempDir('tc-agent-cache-');
  zipB64 = await scriptedSource(work);
});

afterAll(async () => {
  await removeDir(work);
});

describe('agent dependency cache', () => {
  it('when a build holds a cached set, eviction skips it until every build using it has ended', async () => {
    const proxy = join(work, 'goproxy');
    addGoModule(proxy, 'example.com/greet', 'v1.0.0', {
      'go.mod': 'module example.com/greet\n\ngo 1.19\n',
      'greet.go': 'package greet\n\nfunc Hello() string { return "hello" }\n',
    });
    const app = join(work, 'app');
    await writeProject(app, {
      'go.mod': 'module example.com/app\n\ngo 1.19\n\nrequire example.com/greet v1.0.0\n',
      'main.go':
        'package main\n\nimport (\n\t"fmt"\n\n\t"example.com/greet"\n)\n\nfunc main() { fmt.Println(greet.Hello()) }\n',
      'build.json': JSON.stringify({
        language: 'go',
        input: { cmd: 'go build -o out.txt .', env: {} },
        output: { files: ['out.txt'] },
      }),
    });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: join(work, 'home'),
      GOPROXY: `file://${proxy}`,
      GOSUMDB: 'off',
      GOTOOLCHAIN: 'local',
      GOFLAGS: '-mod=mod',
      GOCACHE: join(work, 'gocache'),
      GOMODCACHE: join(work, 'gomodcache'),
      GOPATH: join(work, 'gopath'),
    };
    execFileSync('go', ['mod', 'tidy'], { cwd: app, env, stdio: 'pipe' });
    const cacheDir = join(work, 'client-cache');
    const cache = new DependencyCache(cacheDir);
    const prepare = () => prepareInputs({ dir: app, sourceKind: 'files', cacheDir, env });

    const first = await prepare();
    expect(basename(first.depsArchive!.file)).toMatch(/^\.hold-/);
    const [entry] = await cache.entries();
    expect(entry).toMatchObject({ inUse: true, bytes: first.depsArchive!.size });
    expect(await cache.evict({ maxBytes: 0 })).toEqual({ evicted: [], bytes: 0 });
    // A second build takes the same set from the cache, and marks it used.
    const second = await prepare();
    expect(second.depsArchive!.size).toBe(first.depsArchive!.size);
    expect((await cache.entries()).map((e) => e.name)).toEqual([entry!.name]);
    await first.cleanup();
    expect((await cache.evict({ maxBytes: 0 })).evicted).toEqual([]);
    // The set the build reads is whole whatever happens to the entry.
    expect((await lstat(second.depsArchive!.file)).size).toBe(second.depsArchive!.size);
    await second.cleanup();
    const gone = await cache.evict({ maxBytes: 0 });
    expect(gone.evicted.map((e) => e.name)).toEqual([entry!.name]);
    expect(await readdir(cache.dir)).toEqual([]);

    // The set is held while the source is archived; an archive that fails lets it go.
    execFileSync('git', ['init', '-q'], { cwd: app, env });
    await writeFile(
      Buffer.concat([Buffer.from(`${app}/n`), Buffer.from([0xff]), Buffer.from('.t')]),
      'x',
    );
    execFileSync('git', ['add', '-A'], { cwd: app, env });
    execFileSync(
      'git',
      ['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', 'a name not in UTF-8'],
      { cwd: app, env },
    );
    await expect(prepareInputs({ dir: app, cacheDir, env })).rejects.toHaveCode(
      'SOURCE_UNSUPPORTED_ENTRY',
    );
    expect((await readdir(cache.dir)).filter((n) => n.startsWith('.hold-'))).toEqual([]);
    expect((await cache.evict({ maxBytes: 0 })).evicted).toHaveLength(1);
  });

  it('when the cache is over its budget, pruning evicts the least recently used sets, never one in use nor one being fetched; what a crash left is removed at start', async () => {
    const dataDir = await tempDir('tc-agent-cache-prune-');
    const depsets = join(dataDir, 'cache', 'depsets');
    await mkdir(join(depsets, '.fetch-old'), { recursive: true });
    await writeFile(join(depsets, '.fetch-old', 'set.tar'), 'half');
    await writeFile(join(depsets, '.hold-old.tar'), 'stale');
    const agent = await startTestAgent({
      dataDir,
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
      config: { retention: { maxCacheBytes: 2 * ENTRY_BYTES + ENTRY_BYTES / 4 } },
    });
    try {
      expect(await readdir(depsets)).toEqual([]);
      await fillCache(depsets, ['a', 'b', 'c', 'd']);
      await hold(depsets, 'a');
      await mkdir(join(depsets, '.fetch-live'));
      await writeFile(join(depsets, '.fetch-live', 'set.tar'), Buffer.alloc(ENTRY_BYTES));
      await agent.running.agent.prune();
      // a is the oldest but in use; b and c go; d fits.
      expect(evicted(agent)).toEqual([
        ['b', 'cache_bytes'],
        ['c', 'cache_bytes'],
      ]);
      expect(await cached(depsets)).toEqual(['a', 'd']);
      expect((await readdir(depsets)).sort()).toEqual(
        ['.fetch-live', '.hold-a.tar', entryName('a'), entryName('d')].sort(),
      );
    } finally {
      await agent.stop();
      await removeDir(dataDir);
    }
  });

  it('when the cache fills the data directory past its budget, POST /build evicts the least recently used sets and the build runs instead of 507; with only sets in use, it is 507', async () => {
    let now = Date.now();
    const agent = await startTestAgent({
      executor: new ScriptedExecutor(),
      backend: new StandInBackend(),
      clock: () => now,
      config: { limits: { maxDataBytes: 2 * ENTRY_BYTES + ENTRY_BYTES / 2 } },
    });
    const depsets = join(agent.dataDir, 'cache', 'depsets');
    try {
      await fillCache(depsets, ['a', 'b', 'c', 'd']);
      await hold(depsets, 'a');
      const res = await submit(agent, 'ok');
      expect(res.status).toBe(202);
      const { job_id: id } = await json<{ job_id: string }>(res);
      expect((await waitFinished(agent.fetch, id)).state).toBe('succeeded');
      // Enough for the budget, oldest first, the one in use skipped.
      expect(evicted(agent)).toEqual([
        ['b', 'storage'],
        ['c', 'storage'],
      ]);
      expect(await cached(depsets)).toEqual(['a', 'd']);

      await fillCache(depsets, ['e']);
      await hold(depsets, 'd');
      await hold(depsets, 'e');
      now += 10_000;
      const full = await submit(agent, 'ok');
      expect(full.status).toBe(507);
      expect(await json(full)).toMatchObject({ error: { type: 'insufficient_storage' } });
      expect(await cached(depsets)).toEqual(['a', 'd', 'e']);
    } finally {
      await agent.stop();
      await removeDir(agent.dataDir);
    }
  });
});
