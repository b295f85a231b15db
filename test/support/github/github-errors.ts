/** GitHub's REST error bodies and timestamps, as the stand-ins answer them. */
import { HttpFailure } from './github-http.js';

/** Where GitHub's error bodies point. */
export const DOCS = 'https://docs.github.com/rest';

export function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function fail(
  status: number,
  message: string,
  docs = DOCS,
  extra: Record<string, unknown> = {},
): HttpFailure {
  return new HttpFailure(status, {
    message,
    documentation_url: docs,
    status: String(status),
    ...extra,
  });
}

export function validation(
  resource: string,
  code: string,
  field: string,
  docs = DOCS,
): HttpFailure {
  return new HttpFailure(422, {
    message: 'Validation Failed',
    errors: [{ resource, code, field }],
    documentation_url: docs,
    status: '422',
  });
}
