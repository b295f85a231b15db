import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { CliIo } from '../io.js';
import { CommandError, EXIT_OK, EXIT_REFUSED, UsageError, jsonLine, writeLine } from '../io.js';
import type { NamedBundle, PolicyFlags, SetReport, TrustPolicy } from '../../verify/index.js';
import {
  formatBundleReport,
  formatSetReport,
  isVerifyError,
  setReport,
  singleBundleReport,
  VERIFY_PAGE_URL,
  verifyBundle,
  verifyBundles,
  verifyPageLink,
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
    [--repo <url>] [--pcr <i>=<hex>]... [--min-builders <k>] [--allow-simulated] [--allow-debug] [--builder-key <pem>]
    [--json]
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
  --emit-vsa <file>      write the verdict as a SLSA VSA (DSSE), signed with --vsa-key <pem>
                         (PKCS #8 EC P-256) or --vsa-kms-key <arn> (KMS Sign)
  --builder-key <pem>    require provenance.dsse.json signed by this builder public key
                         (and vouched for by the attestation's public_key)
  --json                 print one JSON object on one line (with --allow-simulated, that line
                         carries "simulated":true and the SIMULATED warning); a usage, I/O or
                         policy error is {"ok":false,"code":…,"message":…} too

Exit status: 0 verified; 1 refused; 2 usage or I/O error.`;

/**
 * The readable report's last line: the verify page (at `TEE_COMPILE_VERIFY_PAGE`, default the
 * project's), set to this commit and nonce, to drop the same bundles on.
 */
function pageLine(report: SetReport, policy: TrustPolicy, io: CliIo): string {
  const base = io.env.TEE_COMPILE_VERIFY_PAGE || VERIFY_PAGE_URL;
  const url = verifyPageLink(
    { commit: policy.source?.commit ?? report.source?.commit ?? null, nonce: policy.nonce ?? null },
    base,
  );
  return `${report.simulated ? 'SIMULATED ' : ''}${report.debug ? 'DEBUG ' : ''}in a browser: drop the bundle${report.bundles.length === 1 ? '' : 's'} on ${url}`;
}

/** The readable report with the page's line just before the verdict, which stays the last line. */
function printReport(lines: string[], page: string, io: CliIo): void {
  for (const l of lines.slice(0, -1)) writeLine(io.stdout, l);
  writeLine(io.stdout, page);
  if (lines.length > 0) writeLine(io.stdout, lines[lines.length - 1]);
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
      'builder-key': { type: 'string' },
      'emit-vsa': { type: 'string' },
      'vsa-key': { type: 'string' },
      'vsa-kms-key': { type: 'string' },
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
  if (values['builder-key'] !== undefined)
    flags.builderKey = await readFile(resolve(io.cwd, values['builder-key']), 'utf8');

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
    throw new CommandError(e.code, e.message, e.path);
  }

  const bundles: NamedBundle[] = [];
  for (const file of positionals) {
    try {
      bundles.push({ name: file, source: await openBundleFile(resolve(io.cwd, file)) });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (typeof code !== 'string') throw e;
      throw new CommandError('IO_ERROR', `cannot read ${file}: ${(e as Error).message}`);
    }
  }

  // The verifier's clock is read here, once; the libraries take it as a parameter. One report
  // shape either way: one bundle alone is reported as a set of one. --json prints it on one line,
  // so that the line saying "simulated":true is the whole output.
  const now = Date.now();
  const vsa = async (report: SetReport): Promise<void> => {
    if (values['emit-vsa'] === undefined) return;
    const { emitVsa } = await import('./vsa-emit.js');
    await emitVsa(report, policy, {
      file: resolve(io.cwd, values['emit-vsa']),
      ...(values['vsa-key'] !== undefined
        ? { keyPem: await readFile(resolve(io.cwd, values['vsa-key']), 'utf8') }
        : {}),
      ...(values['vsa-kms-key'] !== undefined ? { kmsKeyArn: values['vsa-kms-key'] } : {}),
      policyUri: values.policy ?? 'tee-compile:flags',
      version: '0.1.0',
      env: io.env,
    });
  };
  if (bundles.length === 1 && policy.minBuilders <= 1) {
    const r = await verifyBundle(bundles[0]!.source, policy, { now, oidcKeys });
    const report = singleBundleReport(bundles[0]!.name, r);
    await vsa(report);
    if (values.json) writeLine(io.stdout, jsonLine(report));
    else {
      printReport(formatBundleReport(bundles[0]!.name, report), pageLine(report, policy, io), io);
    }
    return report.ok ? EXIT_OK : EXIT_REFUSED;
  }
  const s = await verifyBundles(bundles, policy, {
    now,
    oidcKeys,
    compare: diffoscopeComparer({ env: io.env }),
  });
  const report = setReport(s);
  await vsa(report);
  if (values.json) writeLine(io.stdout, jsonLine(report));
  else {
    printReport(formatSetReport(report), pageLine(report, policy, io), io);
  }
  return report.ok ? EXIT_OK : EXIT_REFUSED;
}
