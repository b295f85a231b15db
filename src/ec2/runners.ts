/**
 * GitHub's REST API for self-hosted runners, as launch, stop and sweep use it: a just-in-time
 * runner configuration (`POST …/actions/runners/generate-jitconfig`), the list of runners and
 * their removal (`DELETE …/actions/runners/{id}`), for a repository or an organisation. Through
 * Octokit (`@octokit/core`, base URL = GITHUB_API_URL). Failures become `GITHUB_FAILED` naming
 * the permission a 403 or 404 usually means.
 */
import { Octokit } from '@octokit/core';
import { Ec2Error } from './errors.js';
import type { GitHubOptions, RunnerScope } from './options.js';

/** Runner pages read (100 runners each). */
export const MAX_RUNNER_PAGES = 20;

/** A self-hosted runner as GitHub lists it. */
export interface Runner {
  id: number;
  name: string;
  status: 'online' | 'offline';
  busy: boolean;
  labels: string[];
}

/** The permission the runner API needs for `scope`. */
export function runnerPermission(scope: RunnerScope): string {
  return scope.kind === 'repo'
    ? 'repository permission "Administration: write" (fine-grained token or GitHub App)'
    : 'organization permission "Self-hosted runners: write" (fine-grained token or GitHub App)';
}

function base(scope: RunnerScope): { url: string; params: Record<string, string> } {
  return scope.kind === 'repo'
    ? {
        url: '/repos/{owner}/{repo}/actions/runners',
        params: { owner: scope.owner, repo: scope.repo },
      }
    : { url: '/orgs/{org}/actions/runners', params: { org: scope.org } };
}

function failure(e: unknown, what: string, scope: RunnerScope): Ec2Error {
  const status = (e as { status?: unknown } | null)?.status;
  if (typeof status !== 'number') {
    if (e instanceof Error)
      return new Ec2Error('GITHUB_FAILED', `${what}: ${e.message}`, { cause: e });
    throw e;
  }
  const hint =
    status === 403 || status === 404 ? `; the token needs the ${runnerPermission(scope)}` : '';
  return new Ec2Error(
    'GITHUB_FAILED',
    `${what}: GitHub answered ${status}: ${(e as Error).message}${hint}`,
    { path: 'github-token', cause: e },
  );
}

/** The runner API of one repository or organisation. */
export class RunnerApi {
  private readonly octokit: Octokit;

  constructor(private readonly gh: GitHubOptions) {
    this.octokit = new Octokit({
      auth: gh.token,
      baseUrl: gh.apiUrl,
      userAgent: 'tee-compile-ec2',
    });
  }

  get scope(): RunnerScope {
    return this.gh.scope;
  }

  /** A just-in-time configuration for one runner named and labelled `label`. */
  async generateJitConfig(
    label: string,
    runnerGroupId: number,
  ): Promise<{ runnerId: number; encodedJitConfig: string }> {
    const b = base(this.gh.scope);
    try {
      const r = await this.octokit.request(`POST ${b.url}/generate-jitconfig`, {
        ...b.params,
        name: label,
        runner_group_id: runnerGroupId,
        labels: [label],
        work_folder: '_work',
      });
      const data = r.data as { runner?: { id?: unknown }; encoded_jit_config?: unknown };
      if (typeof data.encoded_jit_config !== 'string' || typeof data.runner?.id !== 'number')
        throw new Ec2Error(
          'GITHUB_FAILED',
          'generate-jitconfig: GitHub answered without runner.id and encoded_jit_config',
        );
      return { runnerId: data.runner.id, encodedJitConfig: data.encoded_jit_config };
    } catch (e) {
      if (e instanceof Ec2Error) throw e;
      throw failure(e, 'generate-jitconfig', this.gh.scope);
    }
  }

  /** Every runner of the scope. */
  async list(): Promise<Runner[]> {
    const b = base(this.gh.scope);
    const out: Runner[] = [];
    try {
      for (let page = 1; page <= MAX_RUNNER_PAGES; page++) {
        const r = await this.octokit.request(`GET ${b.url}`, { ...b.params, per_page: 100, page });
        const data = r.data as {
          runners?: {
            id: number;
            name: string;
            status: string;
            busy: boolean;
            labels?: { name: string }[];
          }[];
        };
        const runners = data.runners ?? [];
        for (const x of runners)
          out.push({
            id: x.id,
            name: x.name,
            status: x.status === 'online' ? 'online' : 'offline',
            busy: x.busy,
            labels: (x.labels ?? []).map((l) => l.name),
          });
        if (runners.length < 100) break;
      }
    } catch (e) {
      throw failure(e, 'list self-hosted runners', this.gh.scope);
    }
    return out;
  }

  /** Removes a runner; true when removed, false when it was already gone. */
  async remove(id: number): Promise<boolean> {
    const b = base(this.gh.scope);
    try {
      await this.octokit.request(`DELETE ${b.url}/{runner_id}`, { ...b.params, runner_id: id });
      return true;
    } catch (e) {
      if ((e as { status?: unknown }).status === 404) return false;
      throw failure(e, `remove runner ${id}`, this.gh.scope);
    }
  }

  /** Removes the runner named `name`; false when there is none. */
  async removeByName(name: string): Promise<boolean> {
    const r = (await this.list()).find((x) => x.name === name);
    return r === undefined ? false : this.remove(r.id);
  }
}
