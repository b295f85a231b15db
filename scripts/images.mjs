#!/usr/bin/env node
// Keeps enclave/images.json in step with the image recipes, and records images built on a Nitro
// host. Uses the compiled library: run `npm run build` first.
//
//   node scripts/images.mjs check                    exit 1 if images.json is stale
//   node scripts/images.mjs refresh                  recompute recipe hashes, pins, simulated PCRs
//   node scripts/images.mjs add-version <name> <v>   add a new, unmeasured version of an image
//   node scripts/images.mjs record <name> --eif F --measurements F --url U
//                                                    record the PCRs (nitro-cli describe-eif's
//                                                    JSON, checked against ours), EIF digest, URL
//   node scripts/images.mjs check-eif <name> <version> --eif F
//                                                    exit 1 if a built EIF disagrees with its entry
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

const lib = new URL('../lib/', import.meta.url);
let imagesNode, eifNode;
try {
  imagesNode = await import(new URL('catalog/node.js', lib).href);
  eifNode = await import(new URL('eif/node.js', lib).href);
} catch (e) {
  console.error(`images: cannot load the compiled library (run 'npm run build'): ${e.message}`);
  process.exit(2);
}

const ROOT = imagesNode.PACKAGE_ROOT;
const CATALOG = imagesNode.DEFAULT_IMAGE_CATALOG_PATH;

function fail(msg, code = 1) {
  console.error(`images: ${msg}`);
  process.exit(code);
}

async function prettier(text, filepath) {
  // Keep the files as `npm run format` leaves them.
  const { format, resolveConfig } = await import('prettier');
  return format(text, { ...(await resolveConfig(filepath)), filepath });
}

async function save(catalog) {
  await writeFile(CATALOG, await prettier(imagesNode.formatCatalog(catalog), CATALOG));
}

const [cmd, ...rest] = process.argv.slice(2);
try {
  const catalog = await imagesNode.loadImageCatalog(CATALOG);
  switch (cmd) {
    case 'check': {
      const drift = await imagesNode.catalogDrift(catalog, ROOT);
      for (const d of drift) console.error(`stale: ${d}`);
      if (drift.length > 0) fail("run 'node scripts/images.mjs refresh' and commit the result");
      console.error('enclave/images.json is up to date');
      break;
    }
    case 'refresh':
      await save(await imagesNode.refreshCatalog(catalog, ROOT));
      break;
    case 'add-version': {
      const [name, version] = rest;
      if (name === undefined || version === undefined)
        fail('usage: add-version <name> <version>', 2);
      await save(await imagesNode.addImageVersion(catalog, ROOT, name, version));
      break;
    }
    case 'record': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: {
          eif: { type: 'string' },
          measurements: { type: 'string' },
          url: { type: 'string' },
        },
      });
      const { eif, measurements, url } = values;
      if (positionals.length !== 1 || !eif || !measurements || !url)
        fail('usage: record <name> --eif F --measurements F --url U', 2);
      const e = imagesNode.currentEntries(catalog).find((i) => i.name === positionals[0]);
      if (e === undefined) fail(`no image named ${positionals[0]}`);
      const printed = JSON.parse(await readFile(measurements, 'utf8'));
      const description = await eifNode.describeEifFile(eif);
      const next = await imagesNode.recordMeasuredImage(catalog, {
        name: e.name,
        version: e.version,
        description,
        nitroMeasurements: printed.Measurements ?? {},
        eifPath: eif,
        url,
      });
      await save(next);
      console.error(`recorded ${e.name}@${e.version}: PCR0 ${description.measurements.pcr0}`);
      break;
    }
    case 'check-eif': {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { eif: { type: 'string' } },
      });
      if (positionals.length !== 2 || !values.eif)
        fail('usage: check-eif <name> <version> --eif F', 2);
      const [name, version] = positionals;
      const entry = catalog.images.find((i) => i.name === name && i.version === version);
      if (entry === undefined) fail(`no image ${name}@${version} in enclave/images.json`);
      const m = (await eifNode.describeEifFile(values.eif)).measurements;
      const { createHash } = await import('node:crypto');
      const sha256 = createHash('sha256')
        .update(await readFile(values.eif))
        .digest('hex');
      const imagesLib = await import(new URL('catalog/images.js', lib).href);
      const problems = imagesLib.builtImageMismatches(entry, { ...m, sha256 });
      for (const p of problems) console.error(`differs: ${p}`);
      if (problems.length > 0) fail('the built image is not the one on record');
      console.error(
        entry.pcrs === null
          ? `${name}@${version} is not measured yet: record PCR0 ${m.pcr0} PCR1 ${m.pcr1} PCR2 ${m.pcr2} EIF ${sha256}`
          : `${name}@${version} agrees with enclave/images.json`,
      );
      break;
    }
    default:
      fail(
        'usage: images.mjs check | refresh | add-version <name> <v> | ' +
          'record <name> --eif F --measurements F --url U | check-eif <name> <version> --eif F',
        2,
      );
  }
} catch (e) {
  if (
    typeof e?.code === 'string' &&
    e instanceof Error &&
    e.name.endsWith('Error') &&
    e.code.match(/^[A-Z_]+$/)
  )
    fail(`${e.message} [${e.code}]`);
  throw e;
}
