/**
 * The world of the EC2 builder tests: the EC2 stand-in, the GitHub stand-in with a repository
 * `example/hello` and a token allowed to manage its runners, an image catalog in which every image
 * is published, and the AWS variables of the standard chain set for the test (and put back after).
 */
import type { ImageCatalog } from '../../../src/catalog/index.js';
import { loadImageCatalog } from '../../../src/catalog/node.js';
import type { Ec2Mode, Ec2Outcome } from '../../../src/ec2/index.js';
import { runEc2 } from '../../../src/ec2/index.js';
import type { StandinPrincipal } from './ec2-standin.js';
import { Ec2StandIn } from './ec2-standin.js';
import { GitHubStandIn } from '../github/github-api.js';

export const REPO = 'example/hello';
export const SUBNETS = [
  'subnet-0a1b2c3d4e5f60001',
  'subnet-0a1b2c3d4e5f60002',
  'subnet-0a1b2c3d4e5f60003',
];

const AWS_VARS = [
  'AWS_REGION',
  'AWS_DEFAULT_REGION',
  'AWS_ENDPOINT_URL',
  'AWS_ENDPOINT_URL_EC2',
  'AWS_ENDPOINT_URL_IAM',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_CONFIG_FILE',
  'AWS_SHARED_CREDENTIALS_FILE',
  'AWS_EC2_METADATA_DISABLED',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_CONTAINER_CREDENTIALS_FULL_URI',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
];

export interface Ec2World {
  ec2: Ec2StandIn;
  gh: GitHubStandIn;
  principal: StandinPrincipal;
  /** A token allowed to register and remove the repository's runners. */
  token: string;
  /** The catalog launch reads (a test may replace it). */
  catalog: ImageCatalog;
  /** Sets the standard AWS variables for `p` (the default principal when omitted). */
  useCredentials(p?: StandinPrincipal | null): void;
  /** Options of a launch with sensible values, `over` applied. */
  launchOptions(over?: Record<string, string>): Record<string, string>;
  /** Runs one command as the CLI and the action do. */
  run(
    mode: Ec2Mode,
    options: Record<string, string>,
    o?: { log?: string[]; now?: number },
  ): Promise<Ec2Outcome>;
  stop(): Promise<void>;
}

/** The package catalog with every image published (its simulated EIF's values). */
export async function publishedCatalog(): Promise<ImageCatalog> {
  const base = await loadImageCatalog();
  return {
    ...base,
    images: base.images.map((e) => ({
      ...e,
      pcrs: e.simulated,
      eif: {
        sha256: 'a'.repeat(64),
        size: 160 * 1024 * 1024,
        url: `https://images.example/${e.name}-${e.version}.eif`,
      },
    })),
  };
}

export async function startEc2World(): Promise<Ec2World> {
  const ec2 = await Ec2StandIn.start();
  const gh = await GitHubStandIn.start([{ owner: 'example', repo: 'hello' }]);
  const principal = ec2.principal();
  const token = gh.token({ repo: REPO, contents: 'read', administration: 'write' });
  const catalog = await publishedCatalog();
  const saved = new Map(AWS_VARS.map((k) => [k, process.env[k]]));
  const world: Ec2World = {
    ec2,
    gh,
    principal,
    token,
    catalog,
    useCredentials(p = principal) {
      for (const k of AWS_VARS) delete process.env[k];
      // Nothing outside the test may answer: no shared files, no instance metadata.
      process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
      process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
      process.env.AWS_EC2_METADATA_DISABLED = 'true';
      Object.assign(
        process.env,
        p === null ? { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: ec2.url } : ec2.env(p),
      );
    },
    launchOptions: (over = {}) => ({
      'image-id': 'ami-0123456789abcdef0',
      'subnet-ids': SUBNETS.join(','),
      'instance-profile': 'tee-compile-builder',
      repository: REPO,
      'github-token': token,
      'github-api-url': gh.apiUrl,
      run: `${REPO}/4242/1`,
      'max-minutes': '60',
      ...over,
    }),
    run: (mode, options, o = {}) =>
      runEc2(mode, (n) => options[n] ?? '', {
        env: process.env,
        catalog: async () => world.catalog,
        version: '0.1.0',
        now: () => o.now ?? Date.now(),
        log: (m) => o.log?.push(m),
        backoffBaseMs: 5,
      }),
    stop: async () => {
      for (const [k, v] of saved)
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      await ec2.stop();
      await gh.stop();
    },
  };
  world.useCredentials();
  return world;
}
