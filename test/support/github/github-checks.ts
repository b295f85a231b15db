/**
 * Check runs of the GitHub REST stand-in: create (`POST /repos/{o}/{r}/check-runs`), update and
 * read (`PATCH`/`GET /repos/{o}/{r}/check-runs/{id}`), with GitHub's validation (statuses,
 * conclusions, a completed run needs a conclusion, output title and summary, 65535 characters).
 */
import { DOCS, fail, validation } from './github-errors.js';

export interface StoredCheckRun {
  id: number;
  repo: string;
  name: string;
  headSha: string;
  status: string;
  conclusion: string | null;
  detailsUrl: string | null;
  startedAt: string | null;
  completedAt: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  updates: number;
}

/** The check runs of every repository of the stand-in. */
export class CheckRuns {
  private readonly runs: StoredCheckRun[] = [];

  constructor(
    private readonly nextId: () => number,
    private readonly timestamp: () => string,
    private readonly serverUrl: () => string,
  ) {}

  of(repo: string): StoredCheckRun[] {
    return this.runs.filter((c) => c.repo === repo.toLowerCase());
  }

  /** Answers one request: `[status, body]`. */
  handle(
    method: string,
    repo: string,
    id: number | null,
    b: Record<string, unknown>,
    apiUrl: string,
  ): [number, unknown] {
    if (id === null && method === 'POST') {
      const docs = `${DOCS}/checks/runs#create-a-check-run`;
      if (typeof b.name !== 'string' || b.name === '')
        throw validation('CheckRun', 'missing_field', 'name', docs);
      if (typeof b.head_sha !== 'string' || !/^[0-9a-f]{40}$/.test(b.head_sha))
        throw fail(422, `No commit found for SHA: ${String(b.head_sha)}`, docs);
      const run: StoredCheckRun = {
        id: this.nextId(),
        repo,
        name: b.name,
        headSha: b.head_sha,
        status: 'queued',
        conclusion: null,
        detailsUrl: typeof b.details_url === 'string' ? b.details_url : null,
        startedAt: null,
        completedAt: null,
        output: { title: null, summary: null, text: null },
        updates: 0,
      };
      this.apply(run, b, docs);
      this.runs.push(run);
      return [201, this.json(run, apiUrl)];
    }
    const docs = `${DOCS}/checks/runs#update-a-check-run`;
    const run = this.runs.find((c) => c.id === id && c.repo === repo);
    if (run === undefined) throw fail(404, 'Not Found', docs);
    if (method === 'GET') return [200, this.json(run, apiUrl)];
    if (method === 'PATCH') {
      this.apply(run, b, docs);
      run.updates++;
      return [200, this.json(run, apiUrl)];
    }
    throw fail(404, 'Not Found', docs);
  }

  private json(c: StoredCheckRun, apiUrl: string): Record<string, unknown> {
    const [owner, repo] = c.repo.split('/');
    return {
      id: c.id,
      name: c.name,
      node_id: `CR_${Buffer.from(String(c.id)).toString('base64url')}`,
      head_sha: c.headSha,
      external_id: '',
      url: `${apiUrl}/repos/${owner}/${repo}/check-runs/${c.id}`,
      html_url: `${this.serverUrl()}/${c.repo}/runs/${c.id}`,
      details_url: c.detailsUrl,
      status: c.status,
      conclusion: c.conclusion,
      started_at: c.startedAt,
      completed_at: c.completedAt,
      output: {
        ...c.output,
        annotations_count: 0,
        annotations_url: `${apiUrl}/repos/${owner}/${repo}/check-runs/${c.id}/annotations`,
      },
      check_suite: { id: c.id + 1 },
      app: { id: 15368, slug: 'github-actions', name: 'GitHub Actions' },
      pull_requests: [],
    };
  }
  private apply(run: StoredCheckRun, b: Record<string, unknown>, docs: string): void {
    const STATUSES = ['queued', 'in_progress', 'completed', 'waiting', 'requested', 'pending'];
    const CONCLUSIONS = [
      'action_required',
      'cancelled',
      'failure',
      'neutral',
      'success',
      'skipped',
      'stale',
      'timed_out',
    ];
    if (b.status !== undefined && (typeof b.status !== 'string' || !STATUSES.includes(b.status)))
      throw validation('CheckRun', 'invalid', 'status', docs);
    if (
      b.conclusion !== undefined &&
      (typeof b.conclusion !== 'string' || !CONCLUSIONS.includes(b.conclusion))
    )
      throw validation('CheckRun', 'invalid', 'conclusion', docs);
    // Giving a conclusion completes the run; completing one needs a conclusion.
    if (b.status === 'completed' && typeof b.conclusion !== 'string' && run.conclusion === null)
      throw fail(422, 'Invalid request.\n\n"conclusion" wasn\'t supplied.', docs);
    if (b.output !== undefined) {
      const o = b.output as Record<string, unknown>;
      if (
        typeof o !== 'object' ||
        o === null ||
        typeof o.title !== 'string' ||
        typeof o.summary !== 'string'
      )
        throw fail(422, 'Invalid request.\n\n"title", "summary" weren\'t supplied.', docs);
      if (o.summary.length > 65535)
        throw fail(
          422,
          'Invalid request.\n\nOnly 65535 characters are allowed; 65536 were supplied.',
          docs,
        );
      run.output = {
        title: o.title,
        summary: o.summary,
        text: typeof o.text === 'string' ? o.text : null,
      };
    }
    if (typeof b.details_url === 'string') run.detailsUrl = b.details_url;
    if (typeof b.started_at === 'string') run.startedAt = b.started_at;
    if (typeof b.conclusion === 'string') {
      run.conclusion = b.conclusion;
      run.status = 'completed';
      run.completedAt = typeof b.completed_at === 'string' ? b.completed_at : this.timestamp();
    } else if (typeof b.status === 'string') run.status = b.status;
  }
}
