/**
 * The live web dashboard of `predict --dashboard-port N`: the report's page in
 * live mode (report/page.ts), served while the run goes (event-server.ts), and
 * fed with the run's stage, the coordinator's snapshots, each delivered shard
 * and each metrics sample (the rows gpu_metrics.log gets). A browser that
 * connects late gets the state so far in the first event. It stops with the run.
 */
import type { CoordinatorSnapshot } from '../scheduler/coordinator.js';
import type { Coordinator } from '../scheduler/coordinator.js';
import { renderPage } from '../report/page.js';
import type { UnitEvent } from '../report/unit-events.js';
import { EventServer, isLoopback, LOOPBACK } from './event-server.js';
import type { DeviceMetrics } from './telemetry.js';

/** What a late browser is sent of the run so far (bounded; the report has everything). */
const KEEP_UNITS = 20_000;
const KEEP_SAMPLES = 1_800;
/** At most this many snapshots per second between metrics samples. */
const SNAPSHOT_EVERY_MS = 250;

export interface LiveDashboardOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** What is known of the run when it starts (run.json's spelling: input, parameters, tool). */
  run: Record<string, unknown>;
  log: (line: string) => void;
}

interface LiveState {
  run: Record<string, unknown>;
  stage: string;
  snapshot: CoordinatorSnapshot | null;
  units: UnitEvent[];
  metrics: { t: number; rows: DeviceMetrics[] }[];
  finished: { complete: boolean; message: string } | null;
}

export class LiveDashboard {
  private pendingSnapshot: NodeJS.Timeout | undefined;

  private constructor(
    private readonly server: EventServer,
    private readonly state: LiveState,
  ) {}

  static async start(o: LiveDashboardOptions): Promise<LiveDashboard> {
    const host = o.host ?? LOOPBACK;
    const state: LiveState = { run: o.run, stage: 'starting', snapshot: null, units: [], metrics: [], finished: null };
    const server = await EventServer.start({
      host,
      port: o.port,
      page: () => renderPage({ mode: 'live', generatedAt: new Date().toISOString(), run: state.run, records: null, timeline: null, metrics: null, notes: [] }),
      state: () => state,
    });
    o.log(`live dashboard: ${server.url}`);
    if (!isLoopback(host)) o.log(`note: the live dashboard listens on ${host}: anyone who can reach this machine can read it (read-only)`);
    return new LiveDashboard(server, state);
  }

  get url(): string {
    return this.server.url;
  }

  stage(name: string): void {
    this.state.stage = name;
    this.server.broadcast('stage', { stage: name });
  }

  /** Follows a coordinator: a snapshot soon after each dispatch and result. Returns the function that stops following. */
  watch(coordinator: Coordinator): () => void {
    const soon = (): void => {
      if (this.pendingSnapshot) return;
      this.pendingSnapshot = setTimeout(() => {
        this.pendingSnapshot = undefined;
        this.snapshot(coordinator.snapshot());
      }, SNAPSHOT_EVERY_MS);
      this.pendingSnapshot.unref();
    };
    coordinator.on('dispatch', soon);
    coordinator.on('result', soon);
    coordinator.on('steal', soon);
    return () => {
      clearTimeout(this.pendingSnapshot);
      this.pendingSnapshot = undefined;
      coordinator.off('dispatch', soon);
      coordinator.off('result', soon);
      coordinator.off('steal', soon);
    };
  }

  snapshot(s: CoordinatorSnapshot): void {
    this.state.snapshot = s;
    this.server.broadcast('snapshot', s);
  }

  unit(e: UnitEvent): void {
    this.state.units.push(e);
    if (this.state.units.length > KEEP_UNITS) this.state.units.shift();
    this.server.broadcast('unit', e);
  }

  /** One metrics sample (telemetry.ts rows) with the snapshot it was taken from. */
  sample(at: Date, snapshot: CoordinatorSnapshot, rows: DeviceMetrics[]): void {
    const m = { t: at.getTime(), rows };
    this.state.metrics.push(m);
    if (this.state.metrics.length > KEEP_SAMPLES) this.state.metrics.shift();
    this.server.broadcast('metrics', m);
    this.snapshot(snapshot);
  }

  finished(complete: boolean, message: string): void {
    this.state.finished = { complete, message };
    this.server.broadcast('finished', this.state.finished);
  }

  async stop(): Promise<void> {
    clearTimeout(this.pendingSnapshot);
    await this.server.close();
  }
}
