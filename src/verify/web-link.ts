/**
 * Links to the verify page (web/, published with GitHub Pages) that open it on a release's bundles:
 * `?bundle=<url>` per bundle, `&policy=<url>`, `&nonce=<hex>`, `&commit=<id>`. The CLI's readable
 * report and the action's job summaries end with one. Pure.
 */

/**
 * Where the project publishes the page. A fork or an organisation hosting its own copy passes its
 * own base (the CLI reads `TEE_COMPILE_VERIFY_PAGE`); see docs/verify-page.md.
 */
export const VERIFY_PAGE_URL = 'https://tee-compile.github.io/tee-compile/';

/** What the link opens the page on. */
export interface VerifyPageTarget {
  /** URLs of the bundles (e.g. release assets). */
  bundles?: readonly string[];
  policy?: string;
  nonce?: string | null;
  commit?: string | null;
}

/** The page's URL at `base` with the target's query parameters. */
export function verifyPageLink(target: VerifyPageTarget, base: string = VERIFY_PAGE_URL): string {
  const q = new URLSearchParams();
  for (const b of target.bundles ?? []) q.append('bundle', b);
  if (target.policy !== undefined) q.set('policy', target.policy);
  if (target.nonce !== undefined && target.nonce !== null) q.set('nonce', target.nonce);
  if (target.commit !== undefined && target.commit !== null) q.set('commit', target.commit);
  const query = q.toString();
  return query === '' ? base : `${base}${base.includes('?') ? '&' : '?'}${query}`;
}

/** The URL GitHub serves a release asset at. */
export function releaseAssetUrl(
  serverUrl: string,
  repo: { owner: string; repo: string },
  tag: string,
  asset: string,
): string {
  return `${serverUrl}/${repo.owner}/${repo.repo}/releases/download/${encodeURIComponent(tag)}/${encodeURIComponent(asset)}`;
}
