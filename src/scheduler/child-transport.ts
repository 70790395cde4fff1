/**
 * The local transport: one child process per device, started with
 * child_process.fork and the advanced (structured clone) serialization, so
 * typed arrays in results cross the channel without JSON.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker, WorkerDevice, WorkerLauncher, WorkerTransport } from './protocol.js';

/** worker-main next to this file: .ts when running from source under tsx, .js when built. */
function workerEntry(): { path: string; execArgv: string[] } {
  const self = fileURLToPath(import.meta.url);
  const fromSource = self.endsWith('.ts');
  const path = self.replace(/child-transport\.(ts|js)$/, `worker-main.${fromSource ? 'ts' : 'js'}`);
  const inherited = inheritableExecArgv(process.execArgv);
  const hasTsx = inherited.some((a, i) => a === 'tsx' || a.includes('tsx/') || (a === '--import' && inherited[i + 1] === 'tsx'));
  return { path, execArgv: fromSource && !hasTsx ? [...inherited, '--import', 'tsx'] : inherited };
}

/**
 * The parent's Node options a worker may share (loaders, memory limits, flags). Not the test
 * runner's or the inspector's, and not the code of `node -e CODE` / `node -p CODE` (with its
 * `--input-type`): fork would run CODE again in every worker instead of worker-main, so a library
 * caller's `node -e "await predict(...)"` would start a nested run per worker.
 */
function inheritableExecArgv(parent: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < parent.length; i++) {
    const a = parent[i];
    if (['-e', '--eval', '-p', '--print', '--input-type'].includes(a)) {
      i++; // and its value
      continue;
    }
    if (/^(--eval|--print|--input-type)=/.test(a) || a.startsWith('--test') || a.startsWith('--inspect')) continue;
    out.push(a);
  }
  return out;
}

export function childProcessLauncher(): WorkerLauncher {
  const entry = workerEntry();
  return (device: WorkerDevice): WorkerTransport => {
    const child = fork(entry.path, [device.id], {
      execArgv: entry.execArgv,
      serialization: 'advanced',
      env: { ...process.env, VIRNUCPRO_WORKER_DEVICE: device.id },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    // A failed spawn also emits 'exit' (code null); the coordinator treats that as a dead worker.
    child.on('error', (err) => process.stderr.write(`virnucpro: worker for ${device.id}: ${err.message}\n`));
    return {
      get pid() {
        return child.pid;
      },
      send(message: ToWorker) {
        // A worker that just died cannot receive; its exit handler requeues the work.
        if (child.connected) child.send(message, (err) => void err);
      },
      onMessage(listener: (m: FromWorker) => void) {
        child.on('message', (m) => listener(m as FromWorker));
      },
      onExit(listener) {
        child.once('exit', (code, signal) => listener(code, signal));
      },
      kill(signal: NodeJS.Signals = 'SIGTERM') {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      },
    };
  };
}
