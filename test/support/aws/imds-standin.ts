/**
 * A stand-in of the EC2 instance metadata service, IMDSv2 only (the builder is launched with
 * HttpTokens=required): `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
 * (1-21600, else 400) gives a session token; every `GET` needs it in `X-aws-ec2-metadata-token`
 * (else 401). Serves one instance of the EC2 stand-in: `meta-data/instance-id`,
 * `meta-data/placement/region`, `meta-data/iam/info` and `user-data` (what cloud-init runs).
 */
import { randomBytes } from 'node:crypto';
import type { LoggedRequest } from '../github/github-http.js';
import type { Listening } from '../github/github-http.js';
import { listen } from '../github/github-http.js';
import type { StandinInstance } from './ec2-standin.js';
import { REGION } from './ec2-standin.js';

export async function startImds(
  inst: StandinInstance,
): Promise<Listening & { requests: LoggedRequest[] }> {
  const requests: LoggedRequest[] = [];
  const tokens = new Set<string>();
  const l = await listen(
    'imds',
    requests,
    async (req, res, url) => {
      const send = (status: number, body: string): void => {
        res.writeHead(status, {
          'content-type': 'text/plain',
          'content-length': Buffer.byteLength(body),
        });
        res.end(body);
      };
      if (url.pathname === '/latest/api/token') {
        const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds'] ?? NaN);
        if (req.method !== 'PUT') return send(405, '');
        if (!(ttl >= 1 && ttl <= 21600)) return send(400, '');
        const t = randomBytes(32).toString('base64');
        tokens.add(t);
        return send(200, t);
      }
      if (!tokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return send(401, '');
      const values: Record<string, string> = {
        '/latest/meta-data/instance-id': inst.id,
        '/latest/meta-data/placement/region': REGION,
        '/latest/meta-data/iam/info': JSON.stringify(
          {
            Code: 'Success',
            LastUpdated: inst.launchTime,
            InstanceProfileArn: inst.profileArn,
            InstanceProfileId: 'AIPA' + 'X'.repeat(17),
          },
          null,
          2,
        ),
        '/latest/user-data': inst.userData,
      };
      const v = values[url.pathname];
      return v === undefined ? send(404, '') : send(200, v);
    },
    (res) => {
      res.writeHead(500);
      res.end();
    },
  );
  return { ...l, requests };
}
