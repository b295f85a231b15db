import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { CliIo } from '../io.js';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, writeLine } from '../io.js';
import type { NamedBundle, PolicyFlags, SetReport, TrustPolicy } from '../../verify/index.js';
import {
  formatBundleReport,
  formatSetReport,
  isVerifyError,
  setReport,
  singleBundleReport,
  verifyBundle,
  verifyBundles,
} from '../../verify/index.js';
import {
  diffoscopeComparer,
  loadTrustPolicy,
  openBundleFile,
  readJwksFiles,
  readOriginFlags,
} from '../../verify/node.js';
import type { RsaJwk } from '../../oidc/index.js';

const USAGE = `usage: tee-compile verify <bundle.tar.gz>... [--policy <file>] [--nonce <hex>] [--commit <sha>]
    [--repo <url>] [--pcr <i>=<hex>]... [--min-builders <k>] [--allow-simulated] [--allow-debug] [--json]
    [--tag <name>] [--allowed-signers <file>] [--pgp-key <file>]... [--oidc-jwks <file>]...

Verifies attested bundles offline against a trust policy: the AWS Nitro attestation, the enclave
image (PCR0/1/2), the builder (PCR3), the provenance and every artifact's digest. With several
bundles (or --min-builders > 1), at least k distinct trusted builders must agree on identical
outputs; the files that differ are reported.

  --policy <file>        trust policy (JSON); default: the published images, any builder, k = 1
  --nonce <hex>          expected attestation nonce
  --commit <sha>         expected source commit (full id)
  --repo <url>           expected source repository (the verified one when the bundle carries a
                         workflow token; otherwise the provenance's label, reported as unverified)
  --tag <name>           the bundle must be a build of this annotated tag
  --allowed-signers <file>  trusted SSH signers, git's gpg.ssh.allowedSignersFile format; a
                         trusted commit signature is then required (see source.requireSigned)
  --pgp-key <file>       a trusted OpenPGP public key, armored (repeatable); as above
  --oidc-jwks <file>     GitHub OIDC signing keys (JWKS) trusted beyond the pinned set (repeatable)
  --pcr <i>=<hex>        expected PCR value (repeatable)
  --min-builders <k>     distinct trusted builders that must agree
  --allow-simulated      accept simulated bundles (software NSM); every result then says SIMULATED
  --allow-debug          accept debug-mode enclaves (nothing about the image is measured)
  --json                 print one JSON object on one line (with --allow-simulated, that line
                         carries "simulated":true and the SIMULATED warning)

Exit status: 0 verified; 1 refused; 2 usage or I/O error.`;

/**
 * The JSON report on one line. Names in it come from bundles: U+2028 and U+2029, which some
 * readers take for line ends, are escaped too.
 */
function oneLine(report: SetReport): string {
  return JSON.stringify(report).replace(
    /[\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16)}`,
  );
}

/** `tee-compile verify …`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      policy: { type: 'string' },
      nonce: { type: 'string' },
      commit: { type: 'string' },
      repo: { type: 'string' },
      pcr: { type: 'string', multiple: true },
      'min-builders': { type: 'string' },
      'allow-simulated': { type: 'boolean', default: false },
      'allow-debug': { type: 'boolean', default: false },
      tag: { type: 'string' },
      'allowed-signers': { type: 'string' },
      'pgp-key': { type: 'string', multiple: true },
      'oidc-jwks': { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  if (positionals.length === 0) throw new UsageError('missing <bundle.tar.gz>');

  const flags: PolicyFlags = {
    allowSimulated: values['allow-simulated'],
    allowDebug: values['allow-debug'],
  };
  if (values.nonce !== undefined) flags.nonce = values.nonce;
  if (values.commit !== undefined) flags.commit = values.commit;
  if (values.repo !== undefined) flags.repository = values.repo;
  if (values.pcr !== undefined) flags.pcrs = values.pcr;
  if (values['min-builders'] !== undefined) flags.minBuilders = values['min-builders'];

  let policy: TrustPolicy;
  let oidcKeys: RsaJwk[];
  try {
    Object.assign(flags, await readOriginFlags(values, io.cwd));
    oidcKeys = await readJwksFiles((values['oidc-jwks'] ?? []).map((f) => resolve(io.cwd, f)));
    policy = await loadTrustPolicy({
      ...(values.policy === undefined ? {} : { policyFile: resolve(io.cwd, values.policy) }),
      flags,
    });
  } catch (e) {
    if (!isVerifyError(e)) throw e;
    writeLine(io.stderr, `tee-compile verify: ${e.message}`);
    return EXIT_USAGE;
  }

  const bundles: NamedBundle[] = [];
  for (const file of positionals) {
    try {
      bundles.push({ name: file, source: await openBundleFile(resolve(io.cwd, file)) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code !== 'string') throw e;
      writeLine(io.stderr, `tee-compile verify: cannot read ${file}: ${(e as Error).message}`);
      return EXIT_USAGE;
    }
  }

  // The verifier's clock is read here, once; the libraries take it as a parameter. One report
  // shape either way: one bundle alone is reported as a set of one. --json prints it on one line,
  // so that the line saying "simulated":true is the whole output.
  const now = Date.now();
  if (bundles.length === 1 && policy.minBuilders <= 1) {
    const r = await verifyBundle(bundles[0]!.source, policy, { now, oidcKeys });
    const report = singleBundleReport(bundles[0]!.name, r);
    if (values.json) writeLine(io.stdout, oneLine(report));
    else for (const l of formatBundleReport(bundles[0]!.name, report)) writeLine(io.stdout, l);
    return report.ok ? EXIT_OK : EXIT_REFUSED;
  }
  const s = await verifyBundles(bundles, policy, {
    now,
    oidcKeys,
    compare: diffoscopeComparer({ env: io.env }),
  });
  const report = setReport(s);
  if (values.json) writeLine(io.stdout, oneLine(report));
  else for (const l of formatSetReport(report)) writeLine(io.stdout, l);
  return report.ok ? EXIT_OK : EXIT_REFUSED;
}
