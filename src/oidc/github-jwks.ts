/**
 * The pinned JSON Web Key Set of GitHub Actions' OIDC issuer
 * (https://token.actions.githubusercontent.com/.well-known/jwks), trust material like the AWS
 * Nitro root: a token's signature is checked against these keys plus any set the user gives
 * (`verify --oidc-jwks FILE`), never fetched at verification time, so that a bundle verifies
 * offline and keeps verifying after GitHub rotates its keys. Retired keys stay: bundles signed
 * with them must keep verifying.
 *
 * Where the keys come from (the network where this was written reaches only package registries,
 * so the set was taken from copies of GitHub's JWKS committed in public repositories; each key
 * names its copy in `from`):
 * - cc413527-…, 38826b17-…, 38E9B30B…, 4F3E9AD8…: GitHub's live set as copied, in 2026, into
 *   Forgejo's tests ("Real-world GitHub Actions JWKS"); the copy read is
 *   rohitkumarankam/forgejo@cf087a2f12bbbb9a2eb14d50ad81bfc5b6755bd3,
 *   services/auth/authorized_integration_oidc_test.go (the same text is in
 *   veighnsche/forgejo-ext@f8b8a2523e7496e36aa8df16ec40d600af1da24e). Key 38826b17-… verifies
 *   genuine Actions tokens of 2025 and 2026 published in other repositories (the vector in
 *   test/fixtures/github-oidc/ is one).
 * - 78167F72…, 52F197C4… (retired; their X.509 certificates ran 2021-12 to 2024-01): GitHub's set
 *   of 2022-2023 as copied into rubygems.org's tests,
 *   rubygems/rubygems.org@1edc674273a8111a9a9e5d1b82bb906b63c836aa,
 *   test/factories/oidc/provider.rb. Key 78167F72… verifies the genuine token of 2023-03-28 in
 *   rubygems/rubygems.org test/integration/api/v1/oidc/api_key_roles_test.rb.
 *
 * To refresh where the network reaches GitHub: `node scripts/pin-github-jwks.mjs` (fetches the
 * live set, adds its new keys with the time taken, keeps the others; `--check` only reports).
 * The block between the markers is written by that script.
 */
import type { RsaJwk } from './jwks.js';

/** A pinned key, with where and when it was taken. */
export interface PinnedKey extends RsaJwk {
  /** Where the key was read: the issuer's URL, or a repository copy (owner/name@commit:path). */
  from: string;
  /** When it was read (RFC 3339). */
  takenAt: string;
}

export interface PinnedJwks {
  /** The issuer's JWKS URL. */
  source: string;
  /** When the set was last refreshed (RFC 3339), or null when nothing has been pinned. */
  takenAt: string | null;
  keys: readonly PinnedKey[];
}

// BEGIN PINNED (written by scripts/pin-github-jwks.mjs)
// prettier-ignore
const PINNED: PinnedJwks = {
  "source": "https://token.actions.githubusercontent.com/.well-known/jwks",
  "takenAt": "2026-12-07T07:43:05Z",
  "keys": [
    {
      "kid": "cc413527-173f-5a05-976e-9c52b1d7b431",
      "n": "w4M936N3ZxNaEblcUoBm-xu0-V9JxNx5S7TmF0M3SBK-2bmDyAeDdeIOTcIVZHG-ZX9N9W0u1yWafgWewHrsz66BkxXq3bscvQUTAw7W3s6TEeYY7o9shPkFfOiU3x_KYgOo06SpiFdymwJflRs9cnbaU88i5fZJmUepUHVllP2tpPWTi-7UA3AdP3cdcCs5bnFfTRKzH2W0xqKsY_jIG95aQJRBDpbiesefjuyxcQnOv88j9tCKWzHpJzRKYjAUM6OPgN4HYnaSWrPJj1v41eEkFM1kORuj-GSH2qMVD02VklcqaerhQHIqM-RjeHsN7G05YtwYzomE5G-fZuwgvQ",
      "e": "AQAB",
      "from": "rohitkumarankam/forgejo@cf087a2f12bbbb9a2eb14d50ad81bfc5b6755bd3:services/auth/authorized_integration_oidc_test.go (GitHub live set copied into Forgejo tests, 2026)",
      "takenAt": "2026-12-07T07:43:04Z"
    },
    {
      "kid": "38826b17-6a30-5f9b-b169-8beb8202f723",
      "n": "5Manmy-zwsk3wEftXNdKFZec4rSWENW4jTGevlvAcU9z3bgLBogQVvqYLtu9baVm2B3rfe5onadobq8po5UakJ0YsTiiEfXWdST7YI2Sdkvv-hOYMcZKYZ4dFvuSO1vQ2DgEkw_OZNiYI1S518MWEcNxnPU5u67zkawAGsLlmXNbOylgVfBRJrG8gj6scr-sBs4LaCa3kg5IuaCHe1pB-nSYHovGV_z0egE83C098FfwO1dNZBWeo4Obhb5Z-ZYFLJcZfngMY0zJnCVNmpHQWOgxfGikh3cwi4MYrFrbB4NTlxbrQ3bL-rGKR5X318veyDlo8Dyz2KWMobT4wB9U1Q",
      "e": "AQAB",
      "from": "rohitkumarankam/forgejo@cf087a2f12bbbb9a2eb14d50ad81bfc5b6755bd3:services/auth/authorized_integration_oidc_test.go (GitHub live set copied into Forgejo tests, 2026)",
      "takenAt": "2026-12-07T07:43:04Z"
    },
    {
      "kid": "38E9B30B3A023A1B72309921A69A42FCC496C42C",
      "n": "tEq2Fp9HcdT5MwMsB_UTm8j_woJJLi3sA-y0RX2tioTm581seyfvOH6lJ5JmHVtS-_fb8B2tRT1pznHQSNq14PsJdu9bp5egbWmIz-5RvhqoM-oKem_MJENCNFuqXijRLT47FRdfH3inqde1vJlA_JJHCqYMKIpHH7kqNFYcCpwr0vk80Hc2rTyL0uBXI7NqBZbtUgNoyucWO5O7QQrPNOmlr-GI8aFckFRfobCaCOiH9qW02FtkV74fwBGVCNhNf3a1CK81-O8xEGimvVydI_pQA5B8QqVuQjY_ntOu555HdirA0hKkY6fsE9eZCMFmWDHZ2kSWLjhabxWxIzSzXQ",
      "e": "AQAB",
      "from": "rohitkumarankam/forgejo@cf087a2f12bbbb9a2eb14d50ad81bfc5b6755bd3:services/auth/authorized_integration_oidc_test.go (GitHub live set copied into Forgejo tests, 2026)",
      "takenAt": "2026-12-07T07:43:04Z"
    },
    {
      "kid": "4F3E9AD8C9A6F5EB3173006F4FA630E28F43DCE9",
      "n": "tGevqhkBGn8NB0dKxs8Ddxhn-xZPm55svcSlkJZEOwDOXDLl_0-iVOVKNJfcHHLHvMqa6zh2DDcpAWZi2FpeBAJupsrymqwzllxOODWKWoVIoaIjOO7h1JLiF9Knwuq-o6BPtKdwOT-bOrXRzChMtQsc5C1Auex-D0Z6loObBuK1Lkm0RK9ISQsLqBEwq8g0OOupI_shU1r2rT2G0nkZ0CvxVlQeUGShFi8Mdys2s5LPqBwjC4LKwjk8moWQV32KEccbTPKxnG_539DxRglHJgHPHisSVGsfZIUXi2chtXdQHZPdVve8ZRmknCykZtkJ6K87llSUXi7oyzhCIZdiUQ",
      "e": "AQAB",
      "from": "rohitkumarankam/forgejo@cf087a2f12bbbb9a2eb14d50ad81bfc5b6755bd3:services/auth/authorized_integration_oidc_test.go (GitHub live set copied into Forgejo tests, 2026)",
      "takenAt": "2026-12-07T07:43:04Z"
    },
    {
      "kid": "78167F727DEC5D801DD1C8784C704A1C880EC0E1",
      "n": "4WpHpoBYsVBVfSlfgnRbdPMxP3Eb7rFqE48e4pPM4qH_9EsUZIi21LjOu8UkKn14L4hrRfzfRHG7VQSbxXBU1Qa-xM5yVxdmfQZKBxQnPWaE1v7edjxq1ZYnqHIp90Uvnw6798xMCSvI_V3FR8tix5GaoTgkixXlPc-ozifMyEZMmhvuhfDsSxQeTSHGPlWfGkX0id_gYzKPeI69EGtQ9ZN3PLTdoAI8jxlQ-jyDchi9h2ax6hgMLDsMZyiIXnF2UYq4j36Cs5RgdC296d0hEOHN0WYZE-xPl7y_A9UHcVjrxeGfVOuTBXqjowofimn4ESnVXNReCsOwZCJlvJzfpQ",
      "e": "AQAB",
      "from": "rubygems/rubygems.org@1edc674273a8111a9a9e5d1b82bb906b63c836aa:test/factories/oidc/provider.rb (GitHub set of 2022-2023, retired)",
      "takenAt": "2026-12-07T07:43:03Z"
    },
    {
      "kid": "52F197C481DE70112C441B4A9B37B53C7FCF0DB5",
      "n": "wgCsNL8S6evSH_AHBsps2ccIHSwLpuEUGS9GYenGmGkSKyWefKsZheKl_84voiUgduuKcKA2aWQezp9338LjtlBmTHjopzAeU-Q3_IvqNf7BfrEAzEyp-ymdhNzPTE7Snmr5o_9AeiP1ZDBo35FaULgVUECJ3AzAM36zkURax3VNZRRZx1gb8lPUs9M5Yw6aZpHSOd6q_QzE8CP1OhGrAdoBzZ6ZCElon0kI-IuRLCwKptS7Yroi5-RtEKD2W458axNAQ36Yw93N8kInUC1QZDPrKd4QfYiG68ywjBoxp_bjNg5kh4LJmq1mwyGdNQV6F1Ew_jYlmou2Y8wvHQRJPQ",
      "e": "AQAB",
      "from": "rubygems/rubygems.org@1edc674273a8111a9a9e5d1b82bb906b63c836aa:test/factories/oidc/provider.rb (GitHub set of 2022-2023, retired)",
      "takenAt": "2026-12-07T07:43:03Z"
    }
  ]
};
// END PINNED

export const GITHUB_ACTIONS_JWKS: PinnedJwks = PINNED;
