/**
 * `launch`: one enclave-enabled instance that becomes a one-job GitHub runner, in the first
 * instance type (in order of preference) that supports Nitro Enclaves with the vCPUs and memory
 * the images need, in the first subnet (in order) with capacity; spot first when asked, then
 * on-demand. See ./user-data.ts for what the instance does.
 */
import { DescribeInstanceTypesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import type {
  InstanceTypeInfo,
  RunInstancesCommandInput,
  _InstanceType,
} from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand } from '@aws-sdk/client-iam';
import { pcr3ForIamRole } from '../attestation/index.js';
import type { ImageCatalog } from '../catalog/index.js';
import { toHex } from '../util/hex.js';
import type { AwsClients } from './aws.js';
import { awsCode, awsFailure } from './aws.js';
import { Ec2Error } from './errors.js';
import type { LaunchOptions } from './options.js';
import { RunnerApi } from './runners.js';
import type { HostRequirements } from './sizing.js';
import { allocatorFor, hostRequirements } from './sizing.js';
import { builderTags, newLabel } from './tags.js';
import { renderUserData } from './user-data.js';

/**
 * RunInstances errors after which the next subnet (availability zone), market or type is tried:
 * no capacity there, the type not offered in that zone, or spot not available at all.
 */
export const TRY_NEXT_CODES = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'Unsupported',
  'SpotMaxPriceTooLow',
  'MaxSpotInstanceCountExceeded',
  'InsufficientFreeAddressesInSubnet',
]);

/** One RunInstances attempt that did not start the instance. */
export interface LaunchAttempt {
  instanceType: string;
  subnetId: string | null;
  market: 'spot' | 'on-demand';
  code: string;
}

/** What `launch` started. */
export interface LaunchResult {
  label: string;
  instanceId: string;
  region: string;
  instanceType: string;
  subnetId: string | null;
  availabilityZone: string | null;
  market: 'spot' | 'on-demand';
  expiresAt: string;
  /** The builder identity: the instance profile's role (PCR3 of its enclaves), when known. */
  roleArn: string | null;
  pcr3: string | null;
  runnerId: number;
  attempts: LaunchAttempt[];
}

/** What launch needs besides its options. */
export interface LaunchDeps {
  aws: AwsClients;
  catalog: ImageCatalog;
  now: () => number;
  log: (message: string) => void;
}

async function roleOf(aws: AwsClients, profile: string): Promise<string> {
  const name = profile.startsWith('arn:') ? profile.slice(profile.lastIndexOf('/') + 1) : profile;
  let roles;
  try {
    roles = (await aws.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name })))
      .InstanceProfile?.Roles;
  } catch (e) {
    throw awsFailure(e, 'iam:GetInstanceProfile');
  }
  const arn = roles?.[0]?.Arn;
  if (arn === undefined)
    throw new Ec2Error(
      'OPTION_INVALID',
      `option "instance-profile": ${name} has no role; the builder identity (PCR3) is the role's ARN`,
      { path: 'instance-profile' },
    );
  return arn;
}

/** The listed types that can host the images, in order; refuses with each type's reason. */
async function suitableTypes(
  aws: AwsClients,
  o: LaunchOptions,
  req: HostRequirements,
): Promise<InstanceTypeInfo[]> {
  let infos: InstanceTypeInfo[];
  try {
    infos =
      (
        await aws.ec2.send(
          new DescribeInstanceTypesCommand({ InstanceTypes: o.instanceTypes as _InstanceType[] }),
        )
      ).InstanceTypes ?? [];
  } catch (e) {
    throw awsFailure(e, 'ec2:DescribeInstanceTypes');
  }
  const reasons: string[] = [];
  const ok: InstanceTypeInfo[] = [];
  for (const t of o.instanceTypes) {
    const info = infos.find((i) => i.InstanceType === t);
    const vcpus = info?.VCpuInfo?.DefaultVCpus ?? 0;
    const mem = info?.MemoryInfo?.SizeInMiB ?? 0;
    if (info === undefined) reasons.push(`${t}: not offered in ${aws.region}`);
    else if (info.NitroEnclavesSupport !== 'supported')
      reasons.push(`${t}: no Nitro Enclaves support`);
    else if (vcpus < req.minVcpus) reasons.push(`${t}: ${vcpus} vCPUs, needs ${req.minVcpus}`);
    else if (mem < req.minMemoryMiB) reasons.push(`${t}: ${mem} MiB, needs ${req.minMemoryMiB}`);
    else ok.push(info);
  }
  if (ok.length === 0)
    throw new Ec2Error(
      'NO_SUITABLE_INSTANCE_TYPE',
      `no instance type can host the enclave images: ${reasons.join('; ')}`,
      { path: 'instance-types' },
    );
  return ok;
}

/** The RunInstances request of one attempt (exported for the docs and the tests). */
export function runInstancesInput(
  o: LaunchOptions,
  a: {
    instanceType: string;
    subnetId: string | null;
    market: 'spot' | 'on-demand';
    userData: string;
    tags: { Key: string; Value: string }[];
    clientToken: string;
  },
): RunInstancesCommandInput {
  const lt = o.launchTemplate;
  return {
    MinCount: 1,
    MaxCount: 1,
    ClientToken: a.clientToken,
    ...(o.imageId !== null ? { ImageId: o.imageId } : {}),
    ...(lt !== null
      ? {
          LaunchTemplate: {
            ...(lt.id !== null ? { LaunchTemplateId: lt.id } : { LaunchTemplateName: lt.name! }),
            Version: lt.version,
          },
        }
      : {}),
    InstanceType: a.instanceType as _InstanceType,
    ...(a.subnetId !== null ? { SubnetId: a.subnetId } : {}),
    ...(o.securityGroupIds.length > 0 ? { SecurityGroupIds: o.securityGroupIds } : {}),
    ...(o.instanceProfile !== null
      ? {
          IamInstanceProfile: o.instanceProfile.startsWith('arn:')
            ? { Arn: o.instanceProfile }
            : { Name: o.instanceProfile },
        }
      : {}),
    EnclaveOptions: { Enabled: true },
    MetadataOptions: {
      HttpEndpoint: 'enabled',
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
    },
    InstanceInitiatedShutdownBehavior: 'terminate',
    ...(a.market === 'spot'
      ? {
          InstanceMarketOptions: {
            MarketType: 'spot',
            SpotOptions: {
              SpotInstanceType: 'one-time',
              InstanceInterruptionBehavior: 'terminate',
            },
          },
        }
      : {}),
    UserData: Buffer.from(a.userData).toString('base64'),
    TagSpecifications: [
      { ResourceType: 'instance', Tags: a.tags },
      { ResourceType: 'volume', Tags: a.tags },
    ],
  };
}

/** Launches one builder (see the module comment). */
export async function launch(o: LaunchOptions, d: LaunchDeps): Promise<LaunchResult> {
  const req = hostRequirements(d.catalog, o.images);
  const { aws } = d;
  const roleArn = o.instanceProfile === null ? null : await roleOf(aws, o.instanceProfile);
  if (roleArn === null)
    d.log('the builder role comes from the launch template: check its instance profile');
  const types = await suitableTypes(aws, o, req);
  const label = newLabel();
  const expiresAt = new Date(d.now() + o.maxMinutes * 60_000);
  const tags = builderTags({ repository: o.github.repository, run: o.run, expiresAt, label });
  const runners = new RunnerApi(o.github);
  const jit = await runners.generateJitConfig(label, o.runnerGroupId);
  const attempts: LaunchAttempt[] = [];
  try {
    for (const t of types) {
      const allocator = allocatorFor(t.VCpuInfo!.DefaultVCpus!, t.MemoryInfo!.SizeInMiB!);
      const userData = renderUserData({
        label,
        maxMinutes: o.maxMinutes,
        teeCompileVersion: o.teeCompileVersion,
        allocator,
        images: req.images,
        runnerVersion: o.runnerVersion,
        runnerSha256: o.runnerSha256,
        jitConfig: jit.encodedJitConfig,
      });
      const subnets = o.subnetIds.length > 0 ? o.subnetIds : [null];
      for (const subnetId of subnets)
        for (const market of o.spot ? (['spot', 'on-demand'] as const) : (['on-demand'] as const)) {
          const input = runInstancesInput(o, {
            instanceType: t.InstanceType!,
            subnetId,
            market,
            userData,
            tags,
            clientToken: `${label}-${attempts.length}`,
          });
          try {
            const out = await aws.ec2.send(new RunInstancesCommand(input));
            const inst = out.Instances?.[0];
            if (inst?.InstanceId === undefined)
              throw new Ec2Error(
                'AWS_REQUEST_FAILED',
                'ec2:RunInstances answered without an instance',
              );
            d.log(
              `launched ${inst.InstanceId} (${t.InstanceType}, ${market}) in ${inst.Placement?.AvailabilityZone ?? subnetId ?? aws.region}; runner label ${label}; ends by ${tags[3]!.Value}`,
            );
            return {
              label,
              instanceId: inst.InstanceId,
              region: aws.region,
              instanceType: t.InstanceType!,
              subnetId,
              availabilityZone: inst.Placement?.AvailabilityZone ?? null,
              market,
              expiresAt: tags[3]!.Value,
              roleArn,
              pcr3: roleArn === null ? null : toHex(pcr3ForIamRole(roleArn)),
              runnerId: jit.runnerId,
              attempts,
            };
          } catch (e) {
            if (e instanceof Ec2Error) throw e;
            const code = awsCode(e);
            if (code === null || !TRY_NEXT_CODES.has(code))
              throw awsFailure(e, 'ec2:RunInstances', ', ec2:CreateTags and iam:PassRole');
            attempts.push({ instanceType: t.InstanceType!, subnetId, market, code });
            d.log(
              `no ${market} ${t.InstanceType} in ${subnetId ?? 'the template subnet'} (${code}); trying the next`,
            );
          }
        }
    }
  } catch (e) {
    await runners.remove(jit.runnerId).catch(() => false);
    throw e;
  }
  await runners.remove(jit.runnerId).catch(() => false);
  throw new Ec2Error(
    'NO_CAPACITY',
    `no capacity for any instance type in any subnet: ${attempts.map((a) => `${a.market} ${a.instanceType} in ${a.subnetId ?? 'template subnet'}: ${a.code}`).join('; ')}`,
    { path: 'subnet-ids' },
  );
}
