/**
 * `stop` and `sweep`: the end of builders. `stop` terminates one instance and removes its runner;
 * it is idempotent (an instance already terminated or gone, or a runner already removed, is
 * success). `sweep` terminates every instance carrying tee-compile's tags whose
 * `tee-compile:expires-at` has passed (the workflow that launched it was cancelled before its
 * stop step, or stop failed), and removes offline runners with our labels whose instance is no
 * longer alive. An instance without our tags is never touched: it is filtered out by AWS and
 * checked again here.
 */
import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import type { Instance } from '@aws-sdk/client-ec2';
import type { AwsClients } from './aws.js';
import { awsCode, awsFailure } from './aws.js';
import { Ec2Error } from './errors.js';
import type { StopOptions, SweepOptions } from './options.js';
import { RunnerApi } from './runners.js';
import { TAG_EXPIRES_AT, TAG_LABEL, expiryOf, isOurLabel, tagMap } from './tags.js';

/** Instances listed per DescribeInstances page, and pages read. */
export const DESCRIBE_PAGE_SIZE = 200;
export const MAX_DESCRIBE_PAGES = 50;
/** Instances per TerminateInstances call. */
export const TERMINATE_BATCH = 100;

const GONE_STATES = new Set(['shutting-down', 'terminated']);

/** What `stop` did. */
export interface StopResult {
  instanceId: string;
  region: string;
  label: string | null;
  /** `terminated`: ended now; `already-gone`: it had ended (or never existed) before. */
  instance: 'terminated' | 'already-gone';
  /** `removed`, `absent` (already gone), or `skipped` (no GitHub token). */
  runner: 'removed' | 'absent' | 'skipped';
}

/** What `sweep` did. */
export interface SweepResult {
  region: string;
  terminated: { instanceId: string; label: string; expiresAt: string }[];
  /** Tagged instances still within their time. */
  live: { instanceId: string; label: string; expiresAt: string }[];
  runnersRemoved: string[];
}

async function describe(aws: AwsClients, ids: string[] | null): Promise<Instance[]> {
  const out: Instance[] = [];
  let token: string | undefined;
  for (let page = 0; page < MAX_DESCRIBE_PAGES; page++) {
    const r = await aws.ec2.send(
      new DescribeInstancesCommand(
        ids !== null
          ? { InstanceIds: ids }
          : {
              Filters: [
                { Name: 'tag-key', Values: [TAG_EXPIRES_AT] },
                {
                  Name: 'instance-state-name',
                  Values: ['pending', 'running', 'stopping', 'stopped'],
                },
              ],
              MaxResults: DESCRIBE_PAGE_SIZE,
              ...(token !== undefined ? { NextToken: token } : {}),
            },
      ),
    );
    for (const res of r.Reservations ?? []) out.push(...(res.Instances ?? []));
    token = r.NextToken;
    if (ids !== null || token === undefined || token === '') break;
  }
  return out;
}

async function terminate(aws: AwsClients, ids: string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += TERMINATE_BATCH) {
    try {
      await aws.ec2.send(
        new TerminateInstancesCommand({ InstanceIds: ids.slice(i, i + TERMINATE_BATCH) }),
      );
    } catch (e) {
      throw awsFailure(e, 'ec2:TerminateInstances');
    }
  }
}

/** Ends one builder (see the module comment). */
export async function stop(
  o: StopOptions,
  aws: AwsClients,
  log: (m: string) => void,
): Promise<StopResult> {
  let inst: Instance | undefined;
  try {
    inst = (await describe(aws, [o.instanceId]))[0];
  } catch (e) {
    if (awsCode(e) !== 'InvalidInstanceID.NotFound') throw awsFailure(e, 'ec2:DescribeInstances');
  }
  const tags = tagMap(inst?.Tags);
  const label = tags.get(TAG_LABEL) ?? o.label;
  let state: StopResult['instance'] = 'already-gone';
  if (inst !== undefined && !GONE_STATES.has(inst.State?.Name ?? '')) {
    if (expiryOf(tags) === null)
      throw new Ec2Error(
        'INSTANCE_NOT_OURS',
        `${o.instanceId} has no tee-compile tags (${TAG_LABEL}, ${TAG_EXPIRES_AT}): stop ends only builders that launch started`,
        { path: 'instance-id' },
      );
    try {
      await aws.ec2.send(new TerminateInstancesCommand({ InstanceIds: [o.instanceId] }));
      state = 'terminated';
    } catch (e) {
      // Gone between the two calls: that is what stop wants.
      if (awsCode(e) !== 'InvalidInstanceID.NotFound')
        throw awsFailure(e, 'ec2:TerminateInstances');
    }
  }
  let runner: StopResult['runner'] = 'skipped';
  if (o.github !== null && label !== null && isOurLabel(label))
    runner = (await new RunnerApi(o.github).removeByName(label)) ? 'removed' : 'absent';
  log(`${o.instanceId}: ${state}; runner ${label ?? '(label unknown)'}: ${runner}`);
  return { instanceId: o.instanceId, region: aws.region, label, instance: state, runner };
}

/** Ends expired builders and their runners (see the module comment). */
export async function sweep(
  o: SweepOptions,
  aws: AwsClients,
  now: number,
  log: (m: string) => void,
): Promise<SweepResult> {
  let instances: Instance[];
  try {
    instances = await describe(aws, null);
  } catch (e) {
    throw awsFailure(e, 'ec2:DescribeInstances');
  }
  const expired: SweepResult['terminated'] = [];
  const live: SweepResult['live'] = [];
  for (const inst of instances) {
    const tags = tagMap(inst.Tags);
    const expiry = expiryOf(tags);
    if (expiry === null || inst.InstanceId === undefined || GONE_STATES.has(inst.State?.Name ?? ''))
      continue;
    const entry = {
      instanceId: inst.InstanceId,
      label: tags.get(TAG_LABEL)!,
      expiresAt: tags.get(TAG_EXPIRES_AT)!,
    };
    (expiry.getTime() <= now ? expired : live).push(entry);
  }
  if (expired.length > 0)
    await terminate(
      aws,
      expired.map((e) => e.instanceId),
    );
  for (const e of expired) log(`terminated ${e.instanceId} (${e.label}, expired ${e.expiresAt})`);
  const removed: string[] = [];
  if (o.github !== null) {
    const api = new RunnerApi(o.github);
    const alive = new Set(live.map((l) => l.label));
    for (const r of await api.list())
      if (isOurLabel(r.name) && r.status === 'offline' && !r.busy && !alive.has(r.name))
        if (await api.remove(r.id)) {
          removed.push(r.name);
          log(`removed offline runner ${r.name}`);
        }
  }
  return { region: aws.region, terminated: expired, live, runnersRemoved: removed };
}
