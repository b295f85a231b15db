import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CliIo } from '../io.js';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, writeLine } from '../io.js';
import { PACKAGE_ROOT } from '../../catalog/node.js';
import { ImageCatalogError } from '../../catalog/index.js';
import { isEifError } from '../../eif/index.js';
import type { BuiltImage, EifDifference } from '../../image/index.js';
import { buildImage, isImageError, reproduceImage } from '../../image/index.js';

const USAGE = `usage: tee-compile image build <name> [options]
       tee-compile image reproduce <name> [options] [--catalog FILE] [--eif FILE]

Builds the enclave image <name> from enclave/images/<name>/recipe.json, with no Docker, no
nitro-cli and no Nitro host: Debian packages and tarballs fetched and checked against their
SHA-256, the root file system made by mmdebstrap (needs root: ROOT_REQUIRED otherwise),
deterministic ramdisks, and the EIF.
Prints the EIF path, its SHA-256 and PCR0/1/2. 'reproduce' rebuilds and compares with the image's
entry in enclave/images.json, naming the first ramdisk member that differs.

  --out DIR        where the .eif goes (default: .)
  --blobs DIR      AWS boot blobs: bzImage, init, nsm.ko, cmdline (aws-nitro-enclaves-cli
                   blobs/x86_64; default /usr/share/nitro_enclaves/blobs)
  --cache DIR      cache of checked downloads, compiled helpers and root file systems
                   (default: ~/.cache/tee-compile/images)
  --no-reuse       make the helpers and the root file system again even when the cache
                   holds ones made from the same pinned inputs (downloads are still reused)
  --root DIR       repository holding enclave/ and src/ (default: this package)
  --catalog FILE   reproduce: the catalog to compare with (default: enclave/images.json)
  --eif FILE       reproduce: the published EIF (default: downloaded from the catalog's URL)
  --json           print one JSON object

Exit status: 0 built (reproduced); 1 refused or differs; 2 usage or I/O error.`;

function printBuilt(io: CliIo, b: BuiltImage): void {
  writeLine(io.stdout, `EIF     ${b.eif}`);
  writeLine(io.stdout, `SHA-256 ${b.sha256}`);
  writeLine(io.stdout, `PCR0    ${b.pcr0}`);
  writeLine(io.stdout, `PCR1    ${b.pcr1}`);
  writeLine(io.stdout, `PCR2    ${b.pcr2}`);
}

function describeDifference(d: EifDifference): string {
  const where = d.path === undefined ? `the ${d.section}` : `${d.section} ramdisk member ${d.path}`;
  return `first difference: ${where}: recorded ${d.expected}, rebuilt ${d.actual}${d.detail === undefined ? '' : ` (${d.detail})`}`;
}

/** `tee-compile image …`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    writeLine(sub === undefined ? io.stderr : io.stdout, USAGE);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (sub !== 'build' && sub !== 'reproduce')
    throw new UsageError(`unknown subcommand '${sub}' (try 'build' or 'reproduce')`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      out: { type: 'string' },
      blobs: { type: 'string' },
      cache: { type: 'string' },
      root: { type: 'string' },
      catalog: { type: 'string' },
      eif: { type: 'string' },
      json: { type: 'boolean', default: false },
      'no-reuse': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1)
    throw new UsageError(positionals.length === 0 ? 'missing <name>' : 'expected one <name>');
  if (sub === 'build' && (values.catalog !== undefined || values.eif !== undefined))
    throw new UsageError('--catalog and --eif belong to reproduce');
  const at = (p: string) => resolve(io.cwd, p);
  const opts = {
    root: values.root === undefined ? PACKAGE_ROOT : at(values.root),
    name: positionals[0]!,
    outDir: at(values.out ?? '.'),
    blobsDir: at(values.blobs ?? '/usr/share/nitro_enclaves/blobs'),
    cacheDir: at(
      values.cache ??
        join(io.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'tee-compile', 'images'),
    ),
    reuse: !values['no-reuse'],
    log: (l: string) => writeLine(io.stderr, `tee-compile image: ${l}`),
  };
  const label = `tee-compile image ${sub}`;
  try {
    if (sub === 'build') {
      const b = await buildImage(opts);
      if (values.json) writeLine(io.stdout, JSON.stringify(b, null, 2));
      else printBuilt(io, b);
      return EXIT_OK;
    }
    const r = await reproduceImage({
      ...opts,
      ...(values.catalog === undefined ? {} : { catalogPath: at(values.catalog) }),
      ...(values.eif === undefined ? {} : { referenceEif: at(values.eif) }),
    });
    if (values.json)
      writeLine(
        io.stdout,
        JSON.stringify(
          { ok: r.ok, built: r.built, mismatches: r.mismatches, difference: r.difference ?? null },
          null,
          2,
        ),
      );
    else printBuilt(io, r.built);
    if (r.ok) {
      writeLine(io.stderr, `${label}: ${r.entry.name}@${r.entry.version} reproduced exactly`);
      return EXIT_OK;
    }
    for (const m of r.mismatches) writeLine(io.stderr, `${label}: ${m}`);
    if (r.difference !== undefined)
      writeLine(io.stderr, `${label}: ${describeDifference(r.difference)}`);
    writeLine(io.stderr, `${label}: refused [REPRODUCE_MISMATCH]`);
    return EXIT_REFUSED;
  } catch (err) {
    if (!isImageError(err) && !isEifError(err) && !(err instanceof ImageCatalogError)) throw err;
    writeLine(io.stderr, `${label}: refused [${err.code}]: ${err.message}`);
    return EXIT_REFUSED;
  }
}
