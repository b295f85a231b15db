/**
 * The durable job store: one directory per job under `<data-dir>/jobs/`, named by the job id the
 * agent generated (never by anything a client sent).
 *
 *   jobs/<id>/job.json        the record (written atomically at every state change)
 *   jobs/<id>/events.jsonl    the event log (SSE backlog)
 *   jobs/<id>/inputs/         the uploaded source archive, dependency set (removed when finished)
 *   jobs/<id>/work/           extracted or cloned source and build scratch (removed when finished)
 *   jobs/<id>/result.tar.gz   the bundle (fsynced and renamed into place before the record says so)
 *
 * A job directory without `job.json` is an upload that never completed; it is removed at start.
 */
import { constants } from 'node:fs';
import { mkdir, open, readFile, readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentError, isAgentError } from './errors.js';
import { parseWorkdir } from './fields.js';
import { writeFileAtomic } from './fsutil.js';
import { isJobId } from './ids.js';
import type { JobRecord } from './job.js';
import { JOB_STATES } from './job.js';

/** Largest job.json read back (records are small; a bigger one is not ours). */
const MAX_RECORD_BYTES = 1024 * 1024;
const LOCK_FILE = 'agent.pid';

/** Paths of one job's files. */
export interface JobPaths {
  dir: string;
  record: string;
  events: string;
  inputs: string;
  work: string;
  result: string;
  resultTmp: string;
}

/** What `open` found on disk. */
export interface StoreContents {
  records: JobRecord[];
  /** Directories removed because their upload never completed. */
  removedIncomplete: string[];
  /** Records that could not be read (left in place, reported). */
  unreadable: { id: string; reason: string }[];
}

/** The job store of one data directory. */
export class JobStore {
  readonly jobsDir: string;

  constructor(readonly dataDir: string) {
    this.jobsDir = join(dataDir, 'jobs');
  }

  /** Paths of a job's files; `id` must be a job id (checked again here, since paths follow). */
  paths(id: string): JobPaths {
    if (!isJobId(id)) throw new AgentError('AGENT_NOT_FOUND', 'no such job');
    const dir = join(this.jobsDir, id);
    return {
      dir,
      record: join(dir, 'job.json'),
      events: join(dir, 'events.jsonl'),
      inputs: join(dir, 'inputs'),
      work: join(dir, 'work'),
      result: join(dir, 'result.tar.gz'),
      resultTmp: join(dir, 'result.tar.gz.partial'),
    };
  }

  /**
   * Takes the data directory (one agent per directory), creates it, and reads every record;
   * removes the directories of uploads that never completed.
   */
  async open(): Promise<StoreContents> {
    await mkdir(this.jobsDir, { recursive: true, mode: 0o750 });
    await this.lock();
    const out: StoreContents = { records: [], removedIncomplete: [], unreadable: [] };
    for (const name of (await readdir(this.jobsDir)).sort()) {
      if (!isJobId(name)) continue;
      const p = this.paths(name);
      let text: string;
      try {
        const buf = await readFile(p.record);
        if (buf.length > MAX_RECORD_BYTES) throw new Error('record too large');
        text = buf.toString('utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          await rm(p.dir, { recursive: true, force: true });
          out.removedIncomplete.push(name);
        } else out.unreadable.push({ id: name, reason: (err as Error).message });
        continue;
      }
      const rec = parseRecord(text, name);
      if (typeof rec === 'string') out.unreadable.push({ id: name, reason: rec });
      else out.records.push(rec);
    }
    out.records.sort((a, b) => a.createdAt - b.createdAt);
    return out;
  }

  /** Creates the directory of a new job and its inputs directory. */
  async create(id: string): Promise<JobPaths> {
    const p = this.paths(id);
    await mkdir(p.dir, { mode: 0o750 });
    await mkdir(p.inputs, { mode: 0o750 });
    return p;
  }

  /** Writes a job's record durably. */
  async save(rec: JobRecord): Promise<void> {
    await writeFileAtomic(this.paths(rec.id).record, JSON.stringify(rec) + '\n');
  }

  /** Removes what a finished job no longer needs (inputs, scratch, a partial result). */
  async removeScratch(id: string): Promise<void> {
    const p = this.paths(id);
    await rm(p.inputs, { recursive: true, force: true });
    await rm(p.work, { recursive: true, force: true });
    await rm(p.resultTmp, { force: true });
  }

  /** Removes a job entirely. */
  async remove(id: string): Promise<void> {
    await rm(this.paths(id).dir, { recursive: true, force: true });
  }

  /** Releases the data directory. */
  async close(): Promise<void> {
    await unlink(join(this.dataDir, LOCK_FILE)).catch(() => undefined);
  }

  /**
   * One agent per data directory: `agent.pid` names the owner. A stale file (its process gone,
   * e.g. after `kill -9`) is taken over.
   */
  private async lock(): Promise<void> {
    const file = join(this.dataDir, LOCK_FILE);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fh = await open(
          file,
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL,
          0o640,
        );
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && (await isAgentProcess(pid))) {
        throw new AgentError(
          'AGENT_DATA_DIR',
          `data directory ${this.dataDir} is in use by another agent (pid ${pid})`,
        );
      }
      await unlink(file).catch(() => undefined);
    }
    throw new AgentError('AGENT_DATA_DIR', `cannot lock data directory ${this.dataDir}`);
  }
}

/** True when `pid` is alive and looks like a tee-compile agent (pids are reused after a reboot). */
async function isAgentProcess(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  try {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('agent');
  } catch {
    return true;
  }
}

/** Parses a stored record; a string is the reason it was refused. */
function parseRecord(text: string, id: string): JobRecord | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return 'job.json is not JSON';
  }
  const r = v as Partial<JobRecord> | null;
  if (typeof r !== 'object' || r === null) return 'job.json is not an object';
  if (r.version !== 1) return `unknown record version ${String(r.version)}`;
  if (r.id !== id) return 'record id differs from its directory';
  if (!JOB_STATES.includes(r.state as JobRecord['state'])) return 'unknown state';
  if (
    typeof r.createdAt !== 'number' ||
    typeof r.nonce !== 'string' ||
    typeof r.source !== 'object'
  )
    return 'record is incomplete';
  // Written before these fields existed: the source root, nothing to record.
  r.workdir ??= '.';
  r.repository ??= null;
  if (typeof r.workdir !== 'string' || !isWorkdir(r.workdir))
    return 'record has an invalid workdir';
  if (r.repository !== null && typeof r.repository !== 'string')
    return 'record has an invalid repository';
  r.oidcToken ??= null;
  if (r.oidcToken !== null && typeof r.oidcToken !== 'string')
    return 'record has an invalid oidcToken';
  return r as JobRecord;
}

function isWorkdir(value: string): boolean {
  try {
    parseWorkdir(value);
    return true;
  } catch (err) {
    if (isAgentError(err)) return false;
    throw err;
  }
}
