/**
 * One `launch`, `stop` or `sweep` from options read by name — what the CLI (`tee-compile ec2`)
 * and the action (`mode: launch|stop|sweep`) both call, so that they take the same options and
 * give the same outputs (`label`, `instance-id`, `region`, …).
 */
import type { ImageCatalog } from '../catalog/index.js';
import { awsClients } from './aws.js';
import { launch } from './launch.js';
import type { LaunchResult } from './launch.js';
import type { OptionGetter } from './options.js';
import { parseLaunchOptions, parseStopOptions, parseSweepOptions } from './options.js';
import { stop, sweep } from './stop.js';
import type { StopResult, SweepResult } from './stop.js';

export type Ec2Mode = 'launch' | 'stop' | 'sweep';

/** What one command did, and its outputs as the action sets them. */
export type Ec2Outcome =
  | { mode: 'launch'; result: LaunchResult; outputs: Record<string, string> }
  | { mode: 'stop'; result: StopResult; outputs: Record<string, string> }
  | { mode: 'sweep'; result: SweepResult; outputs: Record<string, string> };

/** Everything besides the options. */
export interface Ec2RunDeps {
  env: NodeJS.ProcessEnv;
  /** Loads images.json (launch only). */
  catalog: () => Promise<ImageCatalog>;
  /** The package version (installed on the builder unless `tee-compile-version` says otherwise). */
  version: string;
  now: () => number;
  log: (message: string) => void;
  /** First retry delay of AWS calls (tests shorten it). */
  backoffBaseMs?: number;
}

/** Runs one command (see the module comment). */
export async function runEc2(mode: Ec2Mode, get: OptionGetter, d: Ec2RunDeps): Promise<Ec2Outcome> {
  const settings = (region: string | null) => ({
    env: d.env,
    region,
    ...(d.backoffBaseMs !== undefined ? { backoffBaseMs: d.backoffBaseMs } : {}),
  });
  if (mode === 'launch') {
    const o = parseLaunchOptions(get, { version: d.version });
    const aws = awsClients(settings(o.region));
    const result = await launch(o, { aws, catalog: await d.catalog(), now: d.now, log: d.log });
    return {
      mode,
      result,
      outputs: {
        label: result.label,
        'instance-id': result.instanceId,
        region: result.region,
        'instance-type': result.instanceType,
        'expires-at': result.expiresAt,
        'role-arn': result.roleArn ?? '',
        pcr3: result.pcr3 ?? '',
      },
    };
  }
  if (mode === 'stop') {
    const o = parseStopOptions(get);
    const result = await stop(o, awsClients(settings(o.region)), d.log);
    return {
      mode,
      result,
      outputs: {
        label: result.label ?? '',
        'instance-id': result.instanceId,
        region: result.region,
      },
    };
  }
  const o = parseSweepOptions(get);
  const result = await sweep(o, awsClients(settings(o.region)), d.now(), d.log);
  return {
    mode,
    result,
    outputs: {
      region: result.region,
      terminated: result.terminated.map((t) => t.instanceId).join(','),
      'runners-removed': result.runnersRemoved.join(','),
    },
  };
}
