/**
 * Metrics in the Prometheus text exposition format (version 0.0.4,
 * https://prometheus.io/docs/instrumenting/exposition_formats/).
 */
import type { JobState } from './job.js';
import { JOB_STATES } from './job.js';

/** Upper bounds (seconds) of the build duration histogram. */
export const BUILD_DURATION_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

/** Numbers read at scrape time from the live agent. */
export interface MetricsSnapshot {
  jobsByState: Record<JobState, number>;
  queueLength: number;
  runningJobs: number;
  runningEnclaves: number;
  enclaveCpusInUse: number;
  enclaveMemoryMiBInUse: number;
  capacity: { enclaves: number; cpus: number; memoryMiB: number };
  dataBytes: number;
  sseSubscribers: number;
}

/** Counters and the duration histogram, fed by the agent. */
export class AgentMetrics {
  private readonly buckets = new Map<string, number[]>();
  private readonly sums = new Map<string, number>();
  private readonly counts = new Map<string, number>();
  private readonly finished = new Map<string, number>();
  bytesServed = 0;
  resultsServed = 0;
  requests = new Map<string, number>();

  /** Records a finished job: its outcome and (when it ran) its build duration. */
  jobFinished(outcome: JobState, buildSeconds: number | null): void {
    this.finished.set(outcome, (this.finished.get(outcome) ?? 0) + 1);
    if (buildSeconds === null) return;
    const b = this.buckets.get(outcome) ?? BUILD_DURATION_BUCKETS.map(() => 0);
    BUILD_DURATION_BUCKETS.forEach((le, i) => {
      if (buildSeconds <= le) b[i] = (b[i] ?? 0) + 1;
    });
    this.buckets.set(outcome, b);
    this.sums.set(outcome, (this.sums.get(outcome) ?? 0) + buildSeconds);
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }

  /** Counts an HTTP answer by status code. */
  request(status: number): void {
    const k = String(status);
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  /** The exposition text. */
  render(s: MetricsSnapshot): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    /** A metric of one sample without labels. */
    const single = (name: string, type: string, help: string, value: number): void => {
      metric(name, type, help);
      out.push(`${name} ${value}`);
    };
    metric('tee_compile_agent_jobs', 'gauge', 'Jobs known to the agent, by state.');
    for (const st of JOB_STATES)
      out.push(`tee_compile_agent_jobs{state="${st}"} ${s.jobsByState[st]}`);
    metric(
      'tee_compile_agent_jobs_finished_total',
      'counter',
      'Jobs finished since the agent started, by outcome.',
    );
    for (const st of ['succeeded', 'failed', 'cancelled'])
      out.push(
        `tee_compile_agent_jobs_finished_total{outcome="${st}"} ${this.finished.get(st) ?? 0}`,
      );
    single('tee_compile_agent_queue_length', 'gauge', 'Jobs waiting to start.', s.queueLength);
    single(
      'tee_compile_agent_running_jobs',
      'gauge',
      'Jobs running (preparing, building or waiting for enclave resources).',
      s.runningJobs,
    );
    single('tee_compile_agent_running_enclaves', 'gauge', 'Enclaves running.', s.runningEnclaves);
    single(
      'tee_compile_agent_enclave_cpus_in_use',
      'gauge',
      'CPUs given to running enclaves.',
      s.enclaveCpusInUse,
    );
    single(
      'tee_compile_agent_enclave_memory_mib_in_use',
      'gauge',
      'Memory (MiB) given to running enclaves.',
      s.enclaveMemoryMiBInUse,
    );
    metric('tee_compile_agent_enclave_capacity', 'gauge', 'What the host gives enclaves at once.');
    out.push(`tee_compile_agent_enclave_capacity{resource="enclaves"} ${s.capacity.enclaves}`);
    out.push(`tee_compile_agent_enclave_capacity{resource="cpus"} ${s.capacity.cpus}`);
    out.push(`tee_compile_agent_enclave_capacity{resource="memory_mib"} ${s.capacity.memoryMiB}`);
    metric(
      'tee_compile_agent_build_duration_seconds',
      'histogram',
      'Time from the start of a job to its end, by outcome.',
    );
    for (const [outcome, b] of this.buckets) {
      BUILD_DURATION_BUCKETS.forEach((le, i) =>
        out.push(
          `tee_compile_agent_build_duration_seconds_bucket{outcome="${outcome}",le="${le}"} ${b[i] ?? 0}`,
        ),
      );
      const n = this.counts.get(outcome) ?? 0;
      out.push(
        `tee_compile_agent_build_duration_seconds_bucket{outcome="${outcome}",le="+Inf"} ${n}`,
      );
      out.push(
        `tee_compile_agent_build_duration_seconds_sum{outcome="${outcome}"} ${this.sums.get(outcome) ?? 0}`,
      );
      out.push(`tee_compile_agent_build_duration_seconds_count{outcome="${outcome}"} ${n}`);
    }
    single(
      'tee_compile_agent_result_bytes_served_total',
      'counter',
      'Bytes of bundles sent to clients.',
      this.bytesServed,
    );
    single(
      'tee_compile_agent_results_served_total',
      'counter',
      'Bundles sent to clients in full.',
      this.resultsServed,
    );
    single(
      'tee_compile_agent_data_bytes',
      'gauge',
      'Bytes used in the data directory.',
      s.dataBytes,
    );
    single('tee_compile_agent_sse_subscribers', 'gauge', 'Open event streams.', s.sseSubscribers);
    metric('tee_compile_agent_http_responses_total', 'counter', 'HTTP answers, by status code.');
    for (const [code, n] of [...this.requests].sort())
      out.push(`tee_compile_agent_http_responses_total{code="${code}"} ${n}`);
    return out.join('\n') + '\n';
  }
}
