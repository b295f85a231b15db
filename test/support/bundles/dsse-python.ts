/**
 * An independent DSSE check: Debian's python3-securesystemslib verifies an envelope's ECDSA P-256
 * signature (SSlibKey, scheme ecdsa-sha2-nistp256). securesystemslib 0.26 (Debian bookworm) has no
 * DSSE module yet, so the script computes the PAE itself, from the DSSE spec, in Python.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

/** Debian's Python (which has the package), not a python3 another tool put first on PATH. */
export const DEBIAN_PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

const SCRIPT = `
import base64, json, sys
from securesystemslib.signer import SSlibKey, Signature
env = json.load(open(sys.argv[1]))
pem = open(sys.argv[2]).read()
payload = base64.b64decode(env["payload"], validate=True)
ptype = env["payloadType"].encode("utf-8")
pae = b"DSSEv1 %d %s %d %s" % (len(ptype), ptype, len(payload), payload)
sig = env["signatures"][0]
key = SSlibKey(sig["keyid"], "ecdsa", "ecdsa-sha2-nistp256", {"public": pem})
key.verify_signature(Signature(sig["keyid"], base64.b64decode(sig["sig"]).hex()), pae)
sys.stdout.write(payload.decode("utf-8") if len(sys.argv) < 4 else "")
print("OK", file=sys.stderr)
`;

/** Verifies `envelopeFile` with `pemFile`; resolves with the payload or rejects with Python's error. */
export async function securesystemslibVerify(
  envelopeFile: string,
  pemFile: string,
): Promise<string> {
  const { stdout } = await promisify(execFile)(
    DEBIAN_PYTHON,
    ['-c', SCRIPT, envelopeFile, pemFile],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return stdout;
}
