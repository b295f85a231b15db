/**
 * `tee-compile ec2 launch|stop|sweep`: one-job Nitro builders on EC2 (src/ec2). The options are
 * the action's inputs of the same names; GitHub values default to the workflow's variables
 * (GITHUB_TOKEN, GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID/GITHUB_RUN_ATTEMPT). AWS
 * credentials come from the standard chain; region and endpoint from AWS_REGION and
 * AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Ec2Mode } from '../../ec2/index.js';
import { isEc2Error, runEc2 } from '../../ec2/index.js';
import { ImageCatalogError } from '../../catalog/index.js';
import { PACKAGE_ROOT, loadImageCatalog } from '../../catalog/node.js';
import type { CliIo } from '../io.js';
import { EXIT_OK, EXIT_REFUSED, EXIT_USAGE, UsageError, writeLine } from '../io.js';

const LAUNCH_OPTIONS = [
  'region',
  'image-id',
  'launch-template',
  'launch-template-version',
  'instance-types',
  'subnet-ids',
  'security-group-ids',
  'instance-profile',
  'spot',
  'max-minutes',
  'run',
  'images',
  'runner-version',
  'runner-sha256',
  'runner-group-id',
  'runner-org',
  'tee-compile-version',
  'repository',
  'github-token',
  'github-api-url',
] as const;
const STOP_OPTIONS = [
  'region',
  'instance-id',
  'label',
  'repository',
  'runner-org',
  'github-token',
  'github-api-url',
] as const;
const SWEEP_OPTIONS = [
  'region',
  'repository',
  'runner-org',
  'github-token',
  'github-api-url',
] as const;

const USAGE = `usage: tee-compile ec2 launch --image-id <ami-…> | --launch-template <lt-…|name>
           --subnet-ids <subnet-…,…> --instance-profile <name|arn> [--instance-types <t,…>]
           [--security-group-ids <sg-…,…>] [--spot] [--max-minutes <n>] [--images <name,…>]
           [--images-catalog <images.json>] [--runner-group-id <n>] [--runner-org <org>]
           [--repository <owner/repo>] [--github-token <t>] [--run <id>] [--json]
       tee-compile ec2 stop --instance-id <i-…> [--label <label>] [--json]
       tee-compile ec2 sweep [--json]

Launches an enclave-enabled EC2 instance that registers itself as a one-job GitHub runner
(runs-on: [self-hosted, <label>]) and terminates itself after --max-minutes at the latest; stops
it (idempotent); or sweeps expired builders that a cancelled workflow left behind. Never touches
an instance without tee-compile's tags. See docs/ec2.md (IAM policy, GitHub permissions).

AWS: the standard credential chain; AWS_REGION (or --region); AWS_ENDPOINT_URL_EC2 /
AWS_ENDPOINT_URL. GitHub: --github-token (default GITHUB_TOKEN) needs the repository permission
"Administration: write" (or, with --runner-org, "Self-hosted runners: write" on the organisation).

Exit status: 0 done; 1 AWS or GitHub refused or failed; 2 usage error.`;

/** `tee-compile ec2 …`. */
export async function run(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
    writeLine(sub === undefined ? io.stderr : io.stdout, USAGE);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (sub !== 'launch' && sub !== 'stop' && sub !== 'sweep')
    throw new UsageError(`unknown subcommand '${sub}' (try launch, stop or sweep)`);
  const mode: Ec2Mode = sub;
  const names = mode === 'launch' ? LAUNCH_OPTIONS : mode === 'stop' ? STOP_OPTIONS : SWEEP_OPTIONS;
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const n of names) options[n] = { type: n === 'spot' ? 'boolean' : 'string' };
  if (mode === 'launch') options['images-catalog'] = { type: 'string' };
  const { values } = parseArgs({ args: rest, options, strict: true, allowPositionals: false });
  if (values.help === true) {
    writeLine(io.stdout, USAGE);
    return EXIT_OK;
  }
  const env = io.env;
  const defaults: Record<string, string | undefined> = {
    'github-token': env.GITHUB_TOKEN,
    'github-api-url': env.GITHUB_API_URL,
    repository: env.GITHUB_REPOSITORY,
    run:
      env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
        ? `${env.GITHUB_REPOSITORY}/${env.GITHUB_RUN_ID}/${env.GITHUB_RUN_ATTEMPT ?? '1'}`
        : 'manual',
  };
  const get = (n: string): string => {
    const v = values[n];
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    return v ?? defaults[n] ?? '';
  };
  const catalogPath =
    typeof values['images-catalog'] === 'string'
      ? resolve(io.cwd, values['images-catalog'])
      : undefined;
  const json = values.json === true;
  try {
    const out = await runEc2(mode, get, {
      env,
      catalog: () => loadImageCatalog(catalogPath),
      version: packageVersion(),
      now: () => Date.now(),
      log: (m) => {
        if (!json) writeLine(io.stderr, m);
      },
    });
    if (json)
      writeLine(
        io.stdout,
        JSON.stringify({ ok: true, mode, ...out.result, outputs: out.outputs }, null, 2),
      );
    else for (const [k, v] of Object.entries(out.outputs)) writeLine(io.stdout, `${k}: ${v}`);
    return EXIT_OK;
  } catch (e) {
    if (!isEc2Error(e) && !(e instanceof ImageCatalogError)) throw e;
    const err = e as Error & { code: string; path?: string };
    if (json)
      writeLine(
        io.stdout,
        JSON.stringify(
          {
            ok: false,
            code: err.code,
            ...(err.path !== undefined ? { path: err.path } : {}),
            message: err.message,
          },
          null,
          2,
        ),
      );
    else writeLine(io.stderr, `tee-compile ec2 ${mode}: [${err.code}] ${err.message}`);
    return err.code === 'OPTION_INVALID' ? EXIT_USAGE : EXIT_REFUSED;
  }
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
