import { InvalidArgumentError, type Command } from 'commander';
import cliProgress from 'cli-progress';
import { resolveCacheDir, resolveHfHubCache } from '../../models/cache.js';
import { DEFAULT_RETRY, type DownloadObserver } from '../../models/download.js';
import { fetchModels, type FetchEvents, type FetchedModel } from '../../models/fetch.js';
import { DEFAULT_GITHUB_RAW_URL, DEFAULT_HUB_URL, KNOWN_MODELS, MODEL_IDS, isModelId, type ModelId } from '../../models/registry.js';
import { UsageError } from '../../util/errors.js';
import { formatBytes } from './models-list.js';

interface FetchFlags {
  cacheDir?: string;
  hubUrl?: string;
  githubUrl?: string;
  offline?: boolean;
  hfCache: boolean;
  retries: number;
  verify?: boolean;
}

/** `virnucpro models fetch [esm2-3b|dnabert-s|classifier-300|classifier-500|all ...]`. */
export function registerModelsFetch(models: Command): void {
  models
    .command('fetch')
    .description(
      'download the public models into the cache (resumable, checksum-verified), reusing a Hugging Face cache when it has them',
    )
    .argument('[models...]', `${MODEL_IDS.join(', ')} or all`, ['all'])
    .option('--cache-dir <dir>', 'cache directory (default: $VIRNUCPRO_CACHE, else $XDG_CACHE_HOME/virnucpro or ~/.cache/virnucpro)')
    .option('--hub-url <url>', `Hugging Face hub endpoint (default: $HF_ENDPOINT or ${DEFAULT_HUB_URL})`)
    .option('--github-url <url>', `base URL of raw GitHub files (default: $VIRNUCPRO_GITHUB_RAW_URL or ${DEFAULT_GITHUB_RAW_URL})`)
    .option('--offline', 'do not use the network; fail listing what is missing (also HF_HUB_OFFLINE=1)')
    .option('--no-hf-cache', 'do not reuse files from the Hugging Face hub cache ($HF_HUB_CACHE, $HF_HOME/hub)')
    .option('--retries <n>', 'failed attempts in a row before giving up on a file', parseCount, DEFAULT_RETRY.attempts)
    .option('--verify', 're-hash files already cached and fetch again any that do not match')
    .action(async (names: string[], flags: FetchFlags) => {
      const ids = selectModels(names);
      const env = process.env;
      const stderr = process.stderr;
      const events = stderr.isTTY ? barEvents(stderr) : lineEvents(stderr);
      let fetched: FetchedModel[];
      try {
        fetched = await fetchModels({
          models: ids,
          cacheDir: resolveCacheDir(flags.cacheDir),
          urls: {
            hubUrl: flags.hubUrl ?? env.HF_ENDPOINT ?? DEFAULT_HUB_URL,
            githubRawUrl: flags.githubUrl ?? env.VIRNUCPRO_GITHUB_RAW_URL ?? DEFAULT_GITHUB_RAW_URL,
          },
          hfHubCache: flags.hfCache ? resolveHfHubCache() : undefined,
          offline: flags.offline || isTruthy(env.HF_HUB_OFFLINE),
          hfToken: env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN,
          retry: { ...DEFAULT_RETRY, attempts: flags.retries },
          verify: flags.verify,
          events,
        });
      } finally {
        events.close();
      }
      for (const m of fetched) {
        process.stdout.write(`${m.id}\t${m.dir}\t(use with ${KNOWN_MODELS[m.id].usedWith})\n`);
      }
    });
}

function selectModels(names: string[]): ModelId[] {
  const ids = new Set<ModelId>();
  for (const n of names) {
    if (n === 'all') MODEL_IDS.forEach((id) => ids.add(id));
    else if (isModelId(n)) ids.add(n);
    else throw new UsageError(`unknown model "${n}"`, { hint: `choose from ${MODEL_IDS.join(', ')} or all` });
  }
  return [...ids];
}

function parseCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

/** huggingface_hub's reading of boolean environment variables. */
function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.toLowerCase());
}

function resolvedLine(model: ModelId, f: { name: string; how: string; size: number }): string {
  const how = f.how === 'hf-cache' ? 'linked from the Hugging Face cache' : f.how === 'cached' ? 'already cached' : 'downloaded and verified';
  return `${model}/${f.name}: ${how} (${formatBytes(f.size)})\n`;
}

/** On a terminal: one progress bar per file. `close` stops a bar left running by an error. */
function barEvents(stream: NodeJS.WriteStream): FetchEvents & { close(): void } {
  let bar: cliProgress.SingleBar | undefined;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    close: stop,
    note: (m) => {
      stop();
      stream.write(`${m}\n`);
    },
    resolved: (model, f) => {
      stop();
      if (f.how !== 'downloaded') stream.write(resolvedLine(model, f));
    },
    download(model, file): DownloadObserver {
      const label = `${model}/${file}`;
      return {
        start({ total, resumedFrom }) {
          stop();
          if (resumedFrom > 0) stream.write(`${label}: resuming after ${formatBytes(resumedFrom)}\n`);
          bar = new cliProgress.SingleBar(
            {
              stream,
              format: `${label} [{bar}] {percentage}% {done} of {size} {speed} ETA {eta_formatted}`,
              hideCursor: true,
              barsize: 30,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total ?? 0, resumedFrom, { done: formatBytes(resumedFrom), size: total === undefined ? '?' : formatBytes(total), speed: '' });
        },
        data: rateTracker((received, speed) => bar?.update(received, { done: formatBytes(received), speed })),
        retry({ attempt, delayMs, reason }) {
          stop();
          stream.write(`${label}: ${reason}; retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s\n`);
        },
      };
    },
  };
}

/** Not on a terminal (logs, batch jobs): a plain line at start, every 10 seconds, at each retry and at the end. */
function lineEvents(stream: NodeJS.WritableStream, everyMs = 10_000): FetchEvents & { close(): void } {
  return {
    close: () => undefined,
    note: (m) => stream.write(`${m}\n`),
    resolved: (model, f) => stream.write(resolvedLine(model, f)),
    download(model, file, url): DownloadObserver {
      const label = `${model}/${file}`;
      let last = 0;
      return {
        start({ total, resumedFrom }) {
          last = Date.now();
          const size = total === undefined ? 'size unknown' : formatBytes(total);
          stream.write(`${label}: downloading ${url} (${size}${resumedFrom > 0 ? `, resuming after ${formatBytes(resumedFrom)}` : ''})\n`);
        },
        data: rateTracker((received, speed, total) => {
          if (Date.now() - last < everyMs) return;
          last = Date.now();
          const pct = total ? ` (${((100 * received) / total).toFixed(0)}%)` : '';
          stream.write(`${label}: ${formatBytes(received)}${total ? ` of ${formatBytes(total)}` : ''}${pct}, ${speed}\n`);
        }),
        retry: ({ attempt, delayMs, reason }) => stream.write(`${label}: ${reason}; retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s\n`),
      };
    },
  };
}

/** Wraps a progress callback with a transfer rate averaged over the last few seconds. */
function rateTracker(report: (received: number, speed: string, total?: number) => void): (received: number, total?: number) => void {
  let windowStart = Date.now();
  let windowBytes: number | undefined;
  let speed = '';
  return (received, total) => {
    const now = Date.now();
    windowBytes ??= received;
    if (now - windowStart >= 2000) {
      speed = `${formatBytes(((received - windowBytes) * 1000) / (now - windowStart))}/s`;
      windowStart = now;
      windowBytes = received;
    }
    report(received, speed, total);
  };
}
