import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import type { CliIo, Command } from './io.js';
import {
  CommandError,
  EXIT_OK,
  EXIT_USAGE,
  UsageError,
  printError,
  wantsJson,
  writeLine,
} from './io.js';

/** Sub-commands, loaded on demand so that `tee-compile verify` does not load the agent. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  attestation: {
    summary: 'verify or inspect an AWS Nitro attestation document',
    load: async () => (await import('./commands/attestation.js')).run,
  },
  inputs: {
    summary: 'print the build inputs of a source tree (commit, tree, dependencies)',
    load: async () => (await import('./commands/inputs.js')).run,
  },
  build: {
    summary: 'build a project inside an enclave and write an attested bundle',
    load: async () => (await import('./commands/build.js')).run,
  },
  verify: {
    summary: 'verify attested bundles against a trust policy',
    load: async () => (await import('./commands/verify.js')).run,
  },
  eif: {
    summary: 'describe an enclave image file (.eif) and compute its PCRs',
    load: async () => (await import('./commands/eif.js')).run,
  },
  image: {
    summary: 'build or reproduce an enclave image (.eif) from its pinned recipe',
    load: async () => (await import('./commands/image.js')).run,
  },
  kms: {
    summary: 'create the builder signing key sealed by AWS KMS to trusted images',
    load: async () => (await import('./commands/kms.js')).run,
  },
  agent: {
    summary: 'run the build service on an enclave host',
    load: async () => (await import('./commands/agent.js')).run,
  },
  ec2: {
    summary: 'launch, stop or sweep one-job Nitro builders on EC2',
    load: async () => (await import('./commands/ec2.js')).run,
  },
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

function usage(io: CliIo): void {
  writeLine(io.stderr, 'usage: tee-compile <command> [options]');
  writeLine(io.stderr);
  for (const [name, c] of Object.entries(COMMANDS))
    writeLine(io.stderr, `  ${name.padEnd(12)} ${c.summary}`);
  writeLine(io.stderr);
  writeLine(io.stderr, "Run 'tee-compile <command> --help' for a command's options.");
}

/** Entry point of the `tee-compile` command. Returns the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    usage(io);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    writeLine(io.stdout, version());
    return EXIT_OK;
  }
  const cmd = COMMANDS[name];
  // With --json, an error that ends the command (exit 2) is a JSON object on stdout as well.
  const json = wantsJson(rest);
  if (cmd === undefined) {
    printError(io, '', { code: 'USAGE', message: `unknown command '${name}'` }, json);
    usage(io);
    return EXIT_USAGE;
  }
  try {
    const run = await cmd.load();
    return await run(rest, io);
  } catch (err) {
    if (err instanceof UsageError || isParseArgsError(err)) {
      printError(io, name, { code: 'USAGE', message: (err as Error).message }, json);
      writeLine(io.stderr, `Run 'tee-compile ${name} --help' for usage.`);
      return EXIT_USAGE;
    }
    if (err instanceof CommandError) return printError(io, name, err, json);
    throw err;
  }
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

export { parseArgs };
