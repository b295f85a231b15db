/**
 * Typed calls over any `NsmTransport` (the device through its helper, or `SoftwareNsm`).
 */
import { NsmError } from './errors.js';
import { decodeNsmResponse, encodeNsmRequest } from './nsm-codec.js';
import type { NsmRequest, NsmResponse, NsmTransport } from './types.js';

/** `DescribeNSM` in camelCase. */
export interface NsmDescription {
  versionMajor: number;
  versionMinor: number;
  versionPatch: number;
  moduleId: string;
  maxPcrs: number;
  lockedPcrs: number[];
  digest: 'SHA384';
}

/** Inputs of an attestation request; unset fields are sent as null. */
export interface AttestOptions {
  userData?: Uint8Array | null;
  nonce?: Uint8Array | null;
  publicKey?: Uint8Array | null;
}

type Variant<K extends string> = Extract<NsmResponse, Record<K, unknown>>[K];

/**
 * Client of the NSM API. Every method sends one request; an `{ Error: … }` answer becomes an
 * `NsmError` whose `nsmCode` is the NSM's code, and an answer of the wrong kind an `NsmError` with
 * `InvalidResponse` (as the AWS library reports it).
 */
export class NsmClient {
  constructor(private readonly transport: NsmTransport) {}

  private async call<K extends string>(req: NsmRequest, name: K): Promise<Variant<K>> {
    const resp = decodeNsmResponse(await this.transport.request(encodeNsmRequest(req)));
    if (typeof resp === 'object' && 'Error' in resp) throw new NsmError(resp.Error, name);
    if (typeof resp === 'string') {
      if (resp !== name) throw new NsmError('InvalidResponse', name);
      return resp as Variant<K>;
    }
    if (!(name in resp)) throw new NsmError('InvalidResponse', name);
    return (resp as unknown as Record<K, Variant<K>>)[name];
  }

  /** Asks for a signed attestation document; returns its bytes (COSE_Sign1). */
  async attest(opts: AttestOptions = {}): Promise<Uint8Array> {
    const r = await this.call(
      {
        Attestation: {
          user_data: opts.userData ?? null,
          nonce: opts.nonce ?? null,
          public_key: opts.publicKey ?? null,
        },
      },
      'Attestation',
    );
    return r.document;
  }

  /** Version, module id and PCR bank of the NSM. */
  async describeNsm(): Promise<NsmDescription> {
    const d = await this.call('DescribeNSM', 'DescribeNSM');
    return {
      versionMajor: d.version_major,
      versionMinor: d.version_minor,
      versionPatch: d.version_patch,
      moduleId: d.module_id,
      maxPcrs: d.max_pcrs,
      lockedPcrs: d.locked_pcrs,
      digest: d.digest,
    };
  }

  /** Value and lock state of PCR `index`. */
  async describePcr(index: number): Promise<{ lock: boolean; data: Uint8Array }> {
    return this.call({ DescribePCR: { index } }, 'DescribePCR');
  }

  /** Extends PCR `index` with `data`; returns the new value. */
  async extendPcr(index: number, data: Uint8Array): Promise<Uint8Array> {
    return (await this.call({ ExtendPCR: { index, data } }, 'ExtendPCR')).data;
  }

  /** Locks PCR `index` against further extension. */
  async lockPcr(index: number): Promise<void> {
    await this.call({ LockPCR: { index } }, 'LockPCR');
  }

  /** Locks PCRs `[0, range)`. */
  async lockPcrs(range: number): Promise<void> {
    await this.call({ LockPCRs: { range } }, 'LockPCRs');
  }

  /** Random bytes from the NSM. */
  async getRandom(): Promise<Uint8Array> {
    return (await this.call('GetRandom', 'GetRandom')).random;
  }
}
