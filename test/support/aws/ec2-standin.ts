/**
 * A stand-in for the EC2 Query API (and IAM's GetInstanceProfile) on loopback, reached through the
 * real `@aws-sdk/client-ec2` / `client-iam` by endpoint override (AWS_ENDPOINT_URL). Faithful where
 * a client can tell: form-encoded `Action=…` requests signed with SigV4 (checked; unknown keys get
 * AuthFailure), XML in EC2's namespace, EC2's error envelope and status codes (client errors 4xx;
 * InsufficientInstanceCapacity 500 and RequestLimitExceeded 503, as AWS lists them among server
 * errors), ClientToken idempotency, instance states and codes (pending 0 -> running 16,
 * shutting-down 32 -> terminated 48, advancing on the next read), terminated instances still
 * described, DescribeInstances filters (tag-key, tag:<k>, instance-state-name, instance-id) with
 * MaxResults/NextToken paging. Faults are staged per test: no capacity in a zone, throttling,
 * denied actions (UnauthorizedOperation with AWS's wording).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Listening, LoggedRequest } from '../github/github-http.js';
import { listen, readBody } from '../github/github-http.js';
import type { QueryNode } from './aws-query.js';
import {
  AwsFault,
  EC2_NS,
  IAM_NS,
  checkSigV4,
  ec2ErrorXml,
  iamErrorXml,
  members,
  parseQuery,
  text,
  texts,
  xml,
} from './aws-query.js';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

/** An instance type as DescribeInstanceTypes gives it. */
export interface StandinType {
  name: string;
  vcpus: number;
  memoryMiB: number;
  enclaves: boolean;
}

/** The types the stand-in knows (values as AWS lists them). */
export const STANDIN_TYPES: StandinType[] = [
  { name: 'm6i.2xlarge', vcpus: 8, memoryMiB: 32768, enclaves: true },
  { name: 'm6a.2xlarge', vcpus: 8, memoryMiB: 32768, enclaves: true },
  { name: 'm5.2xlarge', vcpus: 8, memoryMiB: 32768, enclaves: true },
  { name: 'm6i.xlarge', vcpus: 4, memoryMiB: 16384, enclaves: true },
  { name: 'm6i.large', vcpus: 2, memoryMiB: 8192, enclaves: false },
  { name: 't3.xlarge', vcpus: 4, memoryMiB: 16384, enclaves: false },
  { name: 'c6i.xlarge', vcpus: 4, memoryMiB: 8192, enclaves: true },
];

const STATE_CODES: Record<string, number> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** One instance of the stand-in. */
export interface StandinInstance {
  id: string;
  reservationId: string;
  type: string;
  imageId: string;
  subnetId: string;
  az: string;
  state: string;
  tags: Map<string, string>;
  volumeId: string;
  volumeTags: Map<string, string>;
  launchTime: string;
  userData: string;
  market: 'spot' | 'on-demand';
  profileArn: string | null;
  /** The RunInstances request as parsed (what a test asserts on). */
  request: QueryNode;
}

/** A principal: its access key, secret, and the actions denied to it. */
export interface StandinPrincipal {
  accessKeyId: string;
  secretAccessKey: string;
  arn: string;
  deny: Set<string>;
}

export class Ec2StandIn {
  readonly requests: LoggedRequest[] = [];
  /** Every API call, parsed, in order. */
  readonly calls: { service: string; action: string; params: QueryNode; status: number }[] = [];
  readonly instances = new Map<string, StandinInstance>();
  /** subnet id -> availability zone. */
  readonly subnets = new Map<string, string>([
    ['subnet-0a1b2c3d4e5f60001', 'us-east-1a'],
    ['subnet-0a1b2c3d4e5f60002', 'us-east-1b'],
    ['subnet-0a1b2c3d4e5f60003', 'us-east-1c'],
  ]);
  /** Instance profiles: name -> role ARN. */
  readonly profiles = new Map<string, string>([
    ['tee-compile-builder', `arn:aws:iam::${ACCOUNT}:role/tee-compile-builder`],
  ]);
  /** `type@az` with no capacity (`*@az` for every type of a zone); spot is keyed `spot:type@az`. */
  readonly noCapacity = new Set<string>();
  private readonly principals = new Map<string, StandinPrincipal>();
  private readonly throttles = new Map<string, number>();
  private readonly injected = new Map<string, { fault: AwsFault; times: number }>();
  private readonly tokens = new Map<string, { key: string; instanceId: string }>();
  private server!: Listening;

  get url(): string {
    return this.server.url;
  }

  static async start(): Promise<Ec2StandIn> {
    const s = new Ec2StandIn();
    s.server = await listen(
      'ec2',
      s.requests,
      (q, r, u) => s.handle(q, r, u),
      (res, e) => s.fail(res, e, 'ec2'),
    );
    return s;
  }

  stop(): Promise<void> {
    return this.server.close();
  }

  /** A principal with its credentials (deny: actions refused, e.g. `ec2:RunInstances`). */
  principal(deny: string[] = []): StandinPrincipal {
    const p: StandinPrincipal = {
      accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/github-release/GitHubActions`,
      deny: new Set(deny),
    };
    this.principals.set(p.accessKeyId, p);
    return p;
  }

  /** The environment a client of this stand-in runs with (the standard variables). */
  env(p: StandinPrincipal): NodeJS.ProcessEnv {
    return {
      AWS_REGION: REGION,
      AWS_ENDPOINT_URL: this.url,
      AWS_ACCESS_KEY_ID: p.accessKeyId,
      AWS_SECRET_ACCESS_KEY: p.secretAccessKey,
    };
  }

  /** The next `n` calls of `action` answer RequestLimitExceeded. */
  throttle(action: string, n: number): void {
    this.throttles.set(action, n);
  }

  /** The next `times` calls of `action` fail with `fault` (e.g. InvalidParameterValue). */
  inject(action: string, fault: AwsFault, times = 1): void {
    this.injected.set(action, { fault, times });
  }

  /** Adds an instance directly (a foreign one, or one left by an earlier run). */
  seed(o: {
    type?: string;
    tags?: Record<string, string>;
    state?: string;
    subnetId?: string;
  }): StandinInstance {
    const subnetId = o.subnetId ?? [...this.subnets.keys()][0]!;
    const inst = this.newInstance({
      type: o.type ?? 'm5.large',
      imageId: 'ami-0abcdef1234567890',
      subnetId,
      tags: new Map(Object.entries(o.tags ?? {})),
      userData: '',
      market: 'on-demand',
      profileArn: null,
      request: {},
    });
    if (o.state !== undefined) inst.state = o.state;
    return inst;
  }

  /** Calls of one action. */
  callsOf(action: string): { params: QueryNode; status: number }[] {
    return this.calls.filter((c) => c.action === action);
  }

  // ---- plumbing ----

  private fail(res: ServerResponse, e: unknown, service: string): void {
    const f =
      e instanceof AwsFault
        ? e
        : new AwsFault(
            500,
            'InternalError',
            `An internal error has occurred (${(e as Error)?.message})`,
          );
    const body = service === 'iam' ? iamErrorXml(f) : ec2ErrorXml(f);
    res.writeHead(f.status, {
      'content-type': 'text/xml;charset=UTF-8',
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': randomUUID(),
    });
    res.end(body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const body = await readBody(req, 1024 * 1024);
    let service = 'ec2';
    let action = '';
    let params: QueryNode = {};
    try {
      if (req.method !== 'POST')
        throw new AwsFault(400, 'InvalidAction', 'The action or operation requested is not valid.');
      params = parseQuery(body.toString('utf8'));
      action = text(params, 'Action') ?? '';
      const signed = checkSigV4(
        req,
        url.pathname,
        url.search.slice(1),
        body,
        (k) => this.principals.get(k)?.secretAccessKey,
      );
      service = signed.service;
      const who = this.principals.get(signed.accessKeyId)!;
      const permission = `${service}:${action}`;
      if (who.deny.has(permission))
        throw service === 'iam'
          ? new AwsFault(
              403,
              'AccessDenied',
              `User: ${who.arn} is not authorized to perform: ${permission} on resource: arn:aws:iam::${ACCOUNT}:instance-profile/${text(params, 'InstanceProfileName') ?? '*'} because no identity-based policy allows the ${permission} action`,
            )
          : new AwsFault(
              403,
              'UnauthorizedOperation',
              `You are not authorized to perform this operation. User: ${who.arn} is not authorized to perform: ${permission} on resource: arn:aws:ec2:${REGION}:${ACCOUNT}:instance/* because no identity-based policy allows the ${permission} action. Encoded authorization failure message: ${randomBytes(48).toString('base64url')}`,
            );
      const left = this.throttles.get(action) ?? 0;
      if (left > 0) {
        this.throttles.set(action, left - 1);
        throw new AwsFault(503, 'RequestLimitExceeded', 'Request limit exceeded.');
      }
      const inj = this.injected.get(action);
      if (inj !== undefined && inj.times > 0) {
        inj.times--;
        throw inj.fault;
      }
      const inner = service === 'iam' ? this.iam(action, params) : this.ec2(action, params);
      const ns = service === 'iam' ? IAM_NS : EC2_NS;
      const doc =
        service === 'iam'
          ? `<${action}Response xmlns="${ns}"><${action}Result>${inner}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
          : `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${ns}"><requestId>${randomUUID()}</requestId>${inner}</${action}Response>`;
      this.calls.push({ service, action, params, status: 200 });
      res.writeHead(200, {
        'content-type': 'text/xml;charset=UTF-8',
        'content-length': Buffer.byteLength(doc),
      });
      res.end(doc);
    } catch (e) {
      this.calls.push({ service, action, params, status: e instanceof AwsFault ? e.status : 500 });
      this.fail(res, e, service);
    }
  }

  private iam(action: string, p: QueryNode): string {
    if (action !== 'GetInstanceProfile')
      throw new AwsFault(
        400,
        'InvalidAction',
        `Could not find operation ${action} for version 2010-05-08`,
      );
    const name = text(p, 'InstanceProfileName') ?? '';
    const role = this.profiles.get(name);
    if (role === undefined)
      throw new AwsFault(404, 'NoSuchEntity', `Instance Profile ${name} cannot be found.`);
    const created = '2026-01-05T10:00:00Z';
    return xml(
      'InstanceProfile',
      {
        InstanceProfileId: 'AIPA' + 'X'.repeat(17),
        Roles: [
          {
            Path: '/',
            Arn: role,
            RoleName: role.split('/').pop(),
            CreateDate: created,
            RoleId: 'AROA' + 'Y'.repeat(17),
          },
        ],
        InstanceProfileName: name,
        Path: '/',
        Arn: `arn:aws:iam::${ACCOUNT}:instance-profile/${name}`,
        CreateDate: created,
      },
      'member',
    );
  }

  private ec2(action: string, p: QueryNode): string {
    switch (action) {
      case 'RunInstances':
        return this.runInstances(p);
      case 'DescribeInstances':
        return this.describeInstances(p);
      case 'DescribeInstanceTypes':
        return this.describeInstanceTypes(p);
      case 'TerminateInstances':
        return this.terminateInstances(p);
      case 'CreateTags':
        return this.createTags(p);
      default:
        throw new AwsFault(
          400,
          'InvalidAction',
          `The action ${action} is not valid for this web service.`,
        );
    }
  }

  private newInstance(
    o: Omit<
      StandinInstance,
      'id' | 'reservationId' | 'az' | 'state' | 'volumeId' | 'volumeTags' | 'launchTime'
    >,
  ): StandinInstance {
    const inst: StandinInstance = {
      ...o,
      id: `i-${randomBytes(9).toString('hex').slice(0, 17)}`,
      reservationId: `r-${randomBytes(9).toString('hex').slice(0, 17)}`,
      az: this.subnets.get(o.subnetId) ?? 'us-east-1a',
      state: 'pending',
      volumeId: `vol-${randomBytes(9).toString('hex').slice(0, 17)}`,
      volumeTags: new Map(),
      launchTime: new Date().toISOString().replace(/\.\d{3}Z$/, '.000Z'),
    };
    this.instances.set(inst.id, inst);
    return inst;
  }

  private runInstances(p: QueryNode): string {
    const type = text(p, 'InstanceType') ?? 'm1.small';
    const imageId = text(p, 'ImageId');
    const lt =
      text(p, 'LaunchTemplate.LaunchTemplateId') ?? text(p, 'LaunchTemplate.LaunchTemplateName');
    if (imageId === undefined && lt === undefined)
      throw new AwsFault(400, 'MissingParameter', 'The request must contain the parameter ImageId');
    if (text(p, 'MinCount') === undefined || text(p, 'MaxCount') === undefined)
      throw new AwsFault(
        400,
        'MissingParameter',
        'The request must contain the parameter MinCount',
      );
    const info = STANDIN_TYPES.find((t) => t.name === type);
    if (info === undefined)
      throw new AwsFault(400, 'InvalidParameterValue', `Invalid value '${type}' for InstanceType.`);
    if (text(p, 'EnclaveOptions.Enabled') === 'true' && !info.enclaves)
      throw new AwsFault(
        400,
        'InvalidParameterValue',
        `The instance type '${type}' does not support Nitro Enclaves.`,
      );
    const subnetId = text(p, 'SubnetId') ?? [...this.subnets.keys()][0]!;
    const az = this.subnets.get(subnetId);
    if (az === undefined)
      throw new AwsFault(
        400,
        'InvalidSubnetID.NotFound',
        `The subnet ID '${subnetId}' does not exist`,
      );
    const userData = Buffer.from(text(p, 'UserData') ?? '', 'base64');
    if (userData.length > 16384)
      throw new AwsFault(400, 'InvalidParameterValue', 'User data is limited to 16384 bytes');
    const profileName = text(p, 'IamInstanceProfile.Name');
    const profileArn =
      text(p, 'IamInstanceProfile.Arn') ??
      (profileName !== undefined
        ? `arn:aws:iam::${ACCOUNT}:instance-profile/${profileName}`
        : undefined);
    if (profileArn !== undefined && !this.profiles.has(profileArn.split('/').pop()!))
      throw new AwsFault(
        400,
        'InvalidParameterValue',
        `Value (${profileName ?? profileArn}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name`,
      );
    const tags = new Map<string, string>();
    const volumeTags = new Map<string, string>();
    for (const spec of members(p, 'TagSpecification')) {
      const rt = text(spec, 'ResourceType');
      if (
        rt !== 'instance' &&
        rt !== 'volume' &&
        rt !== 'network-interface' &&
        rt !== 'spot-instances-request'
      )
        throw new AwsFault(
          400,
          'InvalidParameterValue',
          `'${rt}' is not a valid taggable resource type for this operation.`,
        );
      for (const t of members(spec as QueryNode, 'Tag')) {
        const k = text(t, 'Key') ?? '';
        if (k.startsWith('aws:'))
          throw new AwsFault(
            400,
            'InvalidParameterValue',
            "Tag keys starting with 'aws:' are reserved for internal use",
          );
        (rt === 'volume' ? volumeTags : rt === 'instance' ? tags : new Map<string, string>()).set(
          k,
          text(t, 'Value') ?? '',
        );
      }
    }
    const spot = text(p, 'InstanceMarketOptions.MarketType') === 'spot';
    const token = text(p, 'ClientToken');
    const key = JSON.stringify({ ...p, ClientToken: undefined });
    if (token !== undefined) {
      const seen = this.tokens.get(token);
      if (seen !== undefined) {
        if (seen.key !== key)
          throw new AwsFault(
            400,
            'IdempotentParameterMismatch',
            'The client token you have provided is associated with a resource that is already deleted or the request differs from the original.',
          );
        return this.reservationXml(this.instances.get(seen.instanceId)!);
      }
    }
    if (
      this.noCapacity.has(`${spot ? 'spot:' : ''}${type}@${az}`) ||
      this.noCapacity.has(`${spot ? 'spot:' : ''}*@${az}`)
    )
      throw new AwsFault(
        500,
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${type} capacity in the Availability Zone you requested (${az}). Our system will be working on provisioning additional capacity. You can currently get ${type} capacity by not specifying an Availability Zone in your request or choosing a different Availability Zone.`,
      );
    const inst = this.newInstance({
      type,
      imageId: imageId ?? 'ami-0fromlaunchtemplate0',
      subnetId,
      tags,
      userData: userData.toString('utf8'),
      market: spot ? 'spot' : 'on-demand',
      profileArn: profileArn ?? null,
      request: p,
    });
    for (const [k, v] of volumeTags) inst.volumeTags.set(k, v);
    if (token !== undefined) this.tokens.set(token, { key, instanceId: inst.id });
    return this.reservationXml(inst);
  }

  private instanceJson(i: StandinInstance): Record<string, unknown> {
    const r = i.request;
    return {
      instanceId: i.id,
      imageId: i.imageId,
      instanceState: { code: STATE_CODES[i.state], name: i.state },
      privateDnsName: `ip-10-0-0-${(i.id.charCodeAt(5) % 200) + 10}.ec2.internal`,
      instanceType: i.type,
      launchTime: i.launchTime,
      placement: { availabilityZone: i.az, tenancy: 'default' },
      subnetId: i.subnetId,
      vpcId: 'vpc-0123456789abcdef0',
      architecture: 'x86_64',
      rootDeviceType: 'ebs',
      rootDeviceName: '/dev/xvda',
      blockDeviceMapping: [
        {
          deviceName: '/dev/xvda',
          ebs: { volumeId: i.volumeId, status: 'attached', deleteOnTermination: true },
        },
      ],
      ...(i.market === 'spot' ? { instanceLifecycle: 'spot' } : {}),
      ...(i.profileArn !== null
        ? { iamInstanceProfile: { arn: i.profileArn, id: 'AIPA' + 'X'.repeat(17) } }
        : {}),
      tagSet: [...i.tags].map(([key, value]) => ({ key, value })),
      enclaveOptions: { enabled: text(r, 'EnclaveOptions.Enabled') === 'true' },
      metadataOptions: {
        state: i.state === 'pending' ? 'pending' : 'applied',
        httpTokens: text(r, 'MetadataOptions.HttpTokens') ?? 'optional',
        httpPutResponseHopLimit: text(r, 'MetadataOptions.HttpPutResponseHopLimit') ?? '2',
        httpEndpoint: text(r, 'MetadataOptions.HttpEndpoint') ?? 'enabled',
      },
    };
  }

  private reservationXml(i: StandinInstance): string {
    return `<reservationId>${i.reservationId}</reservationId><ownerId>${ACCOUNT}</ownerId><groupSet/>${xml('instancesSet', [this.instanceJson(i)])}`;
  }

  /** States move on when read, as a real instance's would in the meantime. */
  private advance(i: StandinInstance): void {
    if (i.state === 'pending') i.state = 'running';
    else if (i.state === 'shutting-down') i.state = 'terminated';
  }

  private describeInstances(p: QueryNode): string {
    const ids = texts(p, 'InstanceId');
    for (const id of ids) {
      if (!/^i-[0-9a-f]{8,17}$/.test(id))
        throw new AwsFault(400, 'InvalidInstanceID.Malformed', `Invalid id: "${id}"`);
      if (!this.instances.has(id))
        throw new AwsFault(
          400,
          'InvalidInstanceID.NotFound',
          `The instance ID '${id}' does not exist`,
        );
    }
    const filters = members(p, 'Filter').map((f) => ({
      name: text(f, 'Name') ?? '',
      values: texts(f as QueryNode, 'Value'),
    }));
    let list = [...this.instances.values()].filter((i) => ids.length === 0 || ids.includes(i.id));
    for (const i of list) this.advance(i);
    for (const f of filters)
      list = list.filter((i) => {
        if (f.name === 'tag-key') return f.values.some((v) => i.tags.has(v));
        if (f.name.startsWith('tag:'))
          return f.values.includes(i.tags.get(f.name.slice(4)) ?? '\0');
        if (f.name === 'instance-state-name') return f.values.includes(i.state);
        if (f.name === 'instance-id') return f.values.includes(i.id);
        throw new AwsFault(400, 'InvalidParameterValue', `The filter '${f.name}' is invalid`);
      });
    const max = text(p, 'MaxResults');
    if (max !== undefined && ids.length > 0)
      throw new AwsFault(
        400,
        'InvalidParameterCombination',
        'The parameter instancesSet cannot be used with the parameter maxResults',
      );
    const size = max === undefined ? list.length : Number(max);
    if (max !== undefined && !(size >= 5 && size <= 1000))
      throw new AwsFault(
        400,
        'InvalidParameterValue',
        `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value greater than 5.`,
      );
    const start = Number(text(p, 'NextToken') ?? 0);
    const page = list.slice(start, start + size);
    const next = start + size < list.length ? String(start + size) : undefined;
    const reservations = page.map((i) => ({
      reservationId: i.reservationId,
      ownerId: ACCOUNT,
      groupSet: [],
      instancesSet: [this.instanceJson(i)],
    }));
    return (
      xml('reservationSet', reservations) +
      (next !== undefined ? `<nextToken>${next}</nextToken>` : '')
    );
  }

  private describeInstanceTypes(p: QueryNode): string {
    const names = texts(p, 'InstanceType');
    const unknown = names.filter((n) => !STANDIN_TYPES.some((t) => t.name === n));
    if (unknown.length > 0)
      throw new AwsFault(
        400,
        'InvalidInstanceType',
        `The following supplied instance types do not exist: [${unknown.join(', ')}]`,
      );
    const list = STANDIN_TYPES.filter((t) => names.length === 0 || names.includes(t.name));
    return xml(
      'instanceTypeSet',
      list.map((t) => ({
        instanceType: t.name,
        currentGeneration: true,
        hypervisor: 'nitro',
        vCpuInfo: { defaultVCpus: t.vcpus, defaultCores: t.vcpus / 2, defaultThreadsPerCore: 2 },
        memoryInfo: { sizeInMiB: t.memoryMiB },
        nitroEnclavesSupport: t.enclaves ? 'supported' : 'unsupported',
        supportedUsageClasses: ['on-demand', 'spot'],
      })),
    );
  }

  private terminateInstances(p: QueryNode): string {
    const ids = texts(p, 'InstanceId');
    if (ids.length === 0)
      throw new AwsFault(
        400,
        'MissingParameter',
        'The request must contain the parameter InstanceId',
      );
    for (const id of ids)
      if (!this.instances.has(id))
        throw new AwsFault(
          400,
          'InvalidInstanceID.NotFound',
          `The instance ID '${id}' does not exist`,
        );
    const items = ids.map((id) => {
      const i = this.instances.get(id)!;
      const previous = i.state;
      if (previous !== 'terminated') i.state = 'shutting-down';
      return {
        instanceId: id,
        currentState: { code: STATE_CODES[i.state], name: i.state },
        previousState: { code: STATE_CODES[previous], name: previous },
      };
    });
    return xml('instancesSet', items);
  }

  private createTags(p: QueryNode): string {
    const ids = texts(p, 'ResourceId');
    for (const id of ids)
      if (id.startsWith('i-') && !this.instances.has(id))
        throw new AwsFault(
          400,
          'InvalidInstanceID.NotFound',
          `The instance ID '${id}' does not exist`,
        );
    for (const t of members(p, 'Tag'))
      for (const id of ids)
        this.instances.get(id)?.tags.set(text(t, 'Key') ?? '', text(t, 'Value') ?? '');
    return '<return>true</return>';
  }
}
