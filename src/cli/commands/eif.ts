import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import type { CliIo } from '../io.js';
import { CommandError, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, writeLine } from '../io.js';
import { formatDescribeEifJson, formatDescribeEifText, isEifError } from '../../eif/index.js';
import { describeEifFile } from '../../eif/node.js';

const USAGE = `usage: tee-compile eif describe <file.eif> [--json] [--report-failed-checks]

Parses an enclave image file (EIF v4), checks it, and computes PCR0, PCR1, PCR2 (and PCR8 for a
signed image) exactly as 'nitro-cli describe-eif' does.

  --json                   print describe-eif's JSON (same keys, same order)
  --report-failed-checks   when the CRC or the signature check fails, still print what was
                           found (CheckCRC/SignatureCheck false); the exit status stays 1

Exit status: 0 image is sound; 1 image damaged or a check failed; 2 usage or I/O error.`;

/** `tee-compile eif …`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    writeLine(sub === undefined ? io.stderr : io.stdout, USAGE);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (sub !== 'describe') throw new UsageError(`unknown subcommand '${sub}' (try 'describe')`);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      json: { type: 'boolean', default: false },
      'report-failed-checks': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  if (positionals.length !== 1)
    throw new UsageError(
      positionals.length === 0 ? 'missing <file.eif>' : 'expected exactly one <file.eif>',
    );
  const file = positionals[0]!;
  const report = values['report-failed-checks'];
  let d;
  try {
    d = await describeEifFile(resolve(io.cwd, file), { checks: report ? 'report' : 'enforce' });
  } catch (err) {
    if (!isEifError(err)) throw err;
    if (err.code === 'READ_FAILED') throw new CommandError('IO_ERROR', err.message);
    writeLine(io.stderr, `tee-compile eif describe: ${file} refused [${err.code}]: ${err.message}`);
    return EXIT_REFUSED;
  }
  writeLine(io.stdout, values.json ? formatDescribeEifJson(d) : formatDescribeEifText(d));
  const failed: string[] = [];
  if (!d.crc.ok) failed.push('the CRC does not match (CheckCRC: false)');
  if (d.signature !== undefined && !d.signature.check)
    failed.push(`the signature check failed: ${d.signature.reason ?? ''}`);
  for (const f of failed) writeLine(io.stderr, `tee-compile eif describe: ${file}: ${f}`);
  return failed.length === 0 ? EXIT_OK : EXIT_REFUSED;
}
