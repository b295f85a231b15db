/**
 * A software NSM: answers the NSM API's CBOR requests as the device does (NSM API
 * src/api/mod.rs; error behaviour of QEMU hw/virtio/virtio-nsm.c and AWS nsm-check.rs) and signs
 * attestation documents in AWS's exact format under a simulation root. Its documents verify only
 * when their root (by default `SIMULATION_ROOT`) is passed as a trust anchor explicitly.
 *
 * Web APIs only; certificate issuance (@peculiar/x509) is loaded on first use.
 */
import { toHex } from '../util/hex.js';
import { bufferSource } from './crypto.js';
import { encodePayload, signDocument } from './document-encode.js';
import { isAttestationError, type NsmErrorCode } from './errors.js';
import { MAX_NSM_REQUEST_BYTES, decodeNsmRequest, encodeNsmResponse } from './nsm-codec.js';
import { PCR_LENGTH, pcrExtend } from './pcr.js';
import { pemToDer } from '../cose/index.js';
import {
  SIMULATION_ROOT_CERTIFICATE_PEM,
  SIMULATION_ROOT_PRIVATE_KEY_PEM,
} from './simulation-root.js';
import type * as SimPki from './sim-pki.js';
import type { NsmRequest, NsmResponse, NsmTransport } from './types.js';

/** PCRs of the device (nsm-check.rs: `max_pcrs == 32`). */
export const NSM_MAX_PCRS = 32;
/** PCRs 0..15 are locked from boot (nsm-check.rs: initial locked list is [0..16)). */
export const NSM_BOOT_LOCKED_PCRS = 16;
/** Largest user_data, nonce or public_key (NSM API docs/attestation_process.md §2.2). */
export const NSM_MAX_ATTESTATION_FIELD_BYTES = 1024;
/** Bytes returned by GetRandom (QEMU virtio-nsm.c `NSM_RND_BUF_SIZE`). */
export const NSM_RANDOM_BYTES = 256;
/** Default life of a leaf certificate: about three hours, like AWS's (nitro-brief §2.3). */
export const DEFAULT_LEAF_LIFETIME_MS = 3 * 60 * 60 * 1000;

const DAY = 24 * 60 * 60 * 1000;
/** Lifetimes of the intermediates, as observed in AWS chains (nitro-brief §2.3). */
const LIFETIME = { regional: 20 * DAY, zonal: 6 * DAY, instance: DAY } as const;

/** A root that issues the software NSM's chains. */
export interface SimulationIssuer {
  certificate: Uint8Array;
  privateKey: CryptoKey;
}

/** Options of `SoftwareNsm.create`. */
export interface SoftwareNsmOptions {
  /** Enclave id, e.g. `i-0123456789abcdef0-enc0123456789abcdef`; default random. */
  moduleId?: string;
  /**
   * Initial values of the boot-locked PCRs 0..15 (48 bytes each): PCR0/1/2 of the image, PCR3 of
   * the IAM role, PCR4 of the instance, PCR8 of the signing certificate. Unset ones are zero, so
   * without PCR0 the documents look like debug mode's.
   */
  pcrs?: Map<number, Uint8Array>;
  /** Clock in ms since the epoch; default `Date.now`. */
  clock?: () => number;
  /** Life of a leaf certificate; default three hours. */
  leafLifetimeMs?: number;
  /** The issuing root; default the simulation root (whose key is public). */
  root?: SimulationIssuer;
  /** Region label used in certificate names; default `sim-1`. */
  region?: string;
}

interface Held {
  der: Uint8Array;
  keys: CryptoKeyPair;
  notBefore: number;
  notAfter: number;
}

type Pki = typeof SimPki;

function randomHex(bytes: number): string {
  return toHex(globalThis.crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The simulation root (certificate and public private key) shipped with the project. */
export async function simulationIssuer(): Promise<SimulationIssuer> {
  const privateKey = await globalThis.crypto.subtle.importKey(
    'pkcs8',
    bufferSource(pemToDer(SIMULATION_ROOT_PRIVATE_KEY_PEM, 'PRIVATE KEY')),
    { name: 'ECDSA', namedCurve: 'P-384' },
    false,
    ['sign'],
  );
  return { certificate: pemToDer(SIMULATION_ROOT_CERTIFICATE_PEM), privateKey };
}

/** A software stand-in for `/dev/nsm`: same requests, same responses, same error codes. */
export class SoftwareNsm implements NsmTransport {
  readonly moduleId: string;
  private readonly pcrs: Uint8Array[] = [];
  private readonly locked: boolean[] = [];
  private readonly clock: () => number;
  private readonly leafLifetimeMs: number;
  private readonly region: string;
  private readonly instanceId: string;
  private root!: Held;
  private chain: { regional?: Held; zonal?: Held; instance?: Held; leaf?: Held } = {};
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly pki: Pki,
    opts: SoftwareNsmOptions,
  ) {
    this.instanceId = `i-${randomHex(9).slice(0, 17)}`;
    this.moduleId = opts.moduleId ?? `${this.instanceId}-enc${randomHex(8)}`;
    const m = /^(i-[0-9a-f]+)-enc[0-9a-f]+$/.exec(this.moduleId);
    if (m) this.instanceId = m[1]!;
    this.clock = opts.clock ?? Date.now;
    this.leafLifetimeMs = opts.leafLifetimeMs ?? DEFAULT_LEAF_LIFETIME_MS;
    this.region = opts.region ?? 'sim-1';
    for (let i = 0; i < NSM_MAX_PCRS; i++) {
      this.pcrs.push(new Uint8Array(PCR_LENGTH));
      this.locked.push(i < NSM_BOOT_LOCKED_PCRS);
    }
    for (const [i, v] of opts.pcrs ?? []) {
      if (!Number.isInteger(i) || i < 0 || i >= NSM_BOOT_LOCKED_PCRS)
        throw new TypeError(
          `pcrs: index ${i} is not a boot-locked PCR (0..${NSM_BOOT_LOCKED_PCRS - 1})`,
        );
      if (v.length !== PCR_LENGTH) throw new TypeError(`pcrs: PCR${i} must be ${PCR_LENGTH} bytes`);
      this.pcrs[i] = v.slice();
    }
    if (!(this.leafLifetimeMs >= 1000)) throw new TypeError('leafLifetimeMs must be at least 1000');
  }

  /** Creates a software NSM with a fresh chain under `opts.root` (default the simulation root). */
  static async create(opts: SoftwareNsmOptions = {}): Promise<SoftwareNsm> {
    const pki = await import('./sim-pki.js');
    const nsm = new SoftwareNsm(pki, opts);
    const root = opts.root ?? (await simulationIssuer());
    const cert = new pki.x509.X509Certificate(bufferSource(root.certificate));
    nsm.root = {
      der: root.certificate.slice(),
      keys: {
        privateKey: root.privateKey,
        publicKey: await pki.certificatePublicKey(root.certificate),
      },
      notBefore: cert.notBefore.getTime(),
      notAfter: cert.notAfter.getTime(),
    };
    return nsm;
  }

  /** Answers one CBOR request with one CBOR response, one request at a time like the driver. */
  request(cbor: Uint8Array): Promise<Uint8Array> {
    const next = this.queue.then(() => this.handle(cbor));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async handle(cbor: Uint8Array): Promise<Uint8Array> {
    // The driver refuses requests over 4 KiB (EMSGSIZE), which the library reports as InputTooLarge.
    if (cbor.length > MAX_NSM_REQUEST_BYTES) return error('InputTooLarge');
    let req: NsmRequest;
    try {
      req = decodeNsmRequest(cbor);
    } catch (e) {
      // QEMU virtio-nsm.c answers InvalidOperation to anything it cannot parse or does not know.
      if (isAttestationError(e)) return error('InvalidOperation');
      throw e;
    }
    return encodeNsmResponse(await this.answer(req));
  }

  private async answer(req: NsmRequest): Promise<NsmResponse> {
    if (req === 'DescribeNSM')
      return {
        DescribeNSM: {
          version_major: 1,
          version_minor: 0,
          version_patch: 0,
          module_id: this.moduleId,
          max_pcrs: NSM_MAX_PCRS,
          locked_pcrs: this.lockedIndexes(),
          digest: 'SHA384',
        },
      };
    if (req === 'GetRandom')
      return {
        GetRandom: { random: globalThis.crypto.getRandomValues(new Uint8Array(NSM_RANDOM_BYTES)) },
      };
    if ('DescribePCR' in req) {
      const i = req.DescribePCR.index;
      if (i >= NSM_MAX_PCRS) return { Error: 'InvalidIndex' };
      return { DescribePCR: { lock: this.locked[i]!, data: this.pcrs[i]!.slice() } };
    }
    if ('ExtendPCR' in req) {
      const { index: i, data } = req.ExtendPCR;
      if (i >= NSM_MAX_PCRS) return { Error: 'InvalidIndex' };
      if (this.locked[i]) return { Error: 'ReadOnlyIndex' };
      const value = pcrExtend(this.pcrs[i]!, data);
      this.pcrs[i] = value;
      return { ExtendPCR: { data: value.slice() } };
    }
    if ('LockPCR' in req) {
      const i = req.LockPCR.index;
      if (i >= NSM_MAX_PCRS) return { Error: 'InvalidIndex' };
      if (this.locked[i]) return { Error: 'ReadOnlyIndex' };
      this.locked[i] = true;
      return 'LockPCR';
    }
    if ('LockPCRs' in req) {
      const r = req.LockPCRs.range;
      if (r > NSM_MAX_PCRS) return { Error: 'InvalidIndex' };
      for (let i = 0; i < r; i++) this.locked[i] = true;
      return 'LockPCRs';
    }
    const a = req.Attestation;
    for (const v of [a.user_data, a.nonce, a.public_key])
      if (v !== null && v.length > NSM_MAX_ATTESTATION_FIELD_BYTES)
        return { Error: 'InvalidArgument' };
    return { Attestation: { document: await this.attest(a.user_data, a.nonce, a.public_key) } };
  }

  private lockedIndexes(): number[] {
    return this.locked.flatMap((l, i) => (l ? [i] : []));
  }

  private async attest(
    userData: Uint8Array | null,
    nonce: Uint8Array | null,
    publicKey: Uint8Array | null,
  ): Promise<Uint8Array> {
    const now = this.clock();
    const leaf = await this.ensureChain(now);
    const c = this.chain as Required<typeof this.chain>;
    // The document lists every locked PCR (NSM API docs/attestation_process.md §2.2).
    const pcrs = new Map(this.lockedIndexes().map((i) => [i, this.pcrs[i]!.slice()] as const));
    const payload = encodePayload({
      moduleId: this.moduleId,
      digest: 'SHA384',
      timestamp: now,
      pcrs,
      certificate: leaf.der,
      cabundle: [this.root.der, c.regional.der, c.zonal.der, c.instance.der],
      publicKey,
      userData,
      nonce,
    });
    return signDocument(payload, leaf.keys.privateKey);
  }

  /** Reissues every certificate of the chain that is not valid at `now`, and those below it. */
  private async ensureChain(now: number): Promise<Held> {
    const valid = (h: Held | undefined): h is Held =>
      h !== undefined && now >= h.notBefore && now <= h.notAfter;
    const names = this.names();
    let parent = this.root;
    let reissue = false;
    for (const level of ['regional', 'zonal', 'instance', 'leaf'] as const) {
      const held = this.chain[level];
      if (reissue || !valid(held)) {
        reissue = true;
        const lifetime = level === 'leaf' ? this.leafLifetimeMs : LIFETIME[level];
        this.chain[level] = await this.issue(level, names[level], parent, now, lifetime);
      }
      parent = this.chain[level]!;
    }
    return parent;
  }

  private names(): Record<'regional' | 'zonal' | 'instance' | 'leaf', string> {
    const org = 'C=US, O=tee-compile, OU=simulation (not trusted)';
    const zone = `${this.region}.simulation.nitro-enclaves`;
    return {
      regional: `${org}, CN=${randomHex(8)}.${zone}`,
      zonal: `${org}, CN=${randomHex(8)}.zonal.${zone}`,
      instance: `${org}, CN=${this.instanceId}.${zone}`,
      leaf: `${org}, CN=${this.moduleId}.${this.region}.simulation`,
    };
  }

  private async issue(
    level: 'regional' | 'zonal' | 'instance' | 'leaf',
    subject: string,
    parent: Held,
    now: number,
    lifetime: number,
  ): Promise<Held> {
    const notBefore = Math.floor(now / 1000) * 1000;
    // A certificate never outlives its issuer, so a path valid at `now` stays valid below it.
    const notAfter = Math.min(notBefore + lifetime, parent.notAfter);
    const keys = await this.pki.generateP384();
    const der = await this.pki.issueCertificate({
      subject,
      keys,
      issuer: { der: parent.der, keys: parent.keys },
      notBefore,
      notAfter,
      ...this.pki.nitroProfile(level),
    });
    return { der, keys, notBefore, notAfter: Math.floor(notAfter / 1000) * 1000 };
  }
}

function error(code: NsmErrorCode): Uint8Array {
  return encodeNsmResponse({ Error: code });
}
