import { InvalidArgumentError, type Command } from 'commander';
import type { DownloadObserver } from '../../hub/download.js';
import { fetchModels, type FetchEvents, type FetchedModel } from '../../hub/fetch.js';
import { DEFAULT_GITHUB_RAW_URL, DEFAULT_HUB_URL, KNOWN_MODELS, MODEL_IDS, isModelId, type ModelId } from '../../hub/registry.js';
import { resolveCacheDir, resolveHfHubCache } from '../../util/cache-dir.js';
import { UsageError } from '../../util/errors.js';
import { DEFAULT_RETRY } from '../../util/retry.js';
import { createProgress, formatBytes, type Progress } from '../../util/progress.js';

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
      const events = progressEvents(process.stderr);
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

/**
 * Progress of one file at a time through the shared reporter (a bar on a
 * terminal, plain periodic lines otherwise), plus a line for each start,
 * retry and finished file. `close` stops a bar left running by an error.
 */
function progressEvents(stream: NodeJS.WriteStream): FetchEvents & { close(): void } {
  let current: Progress | undefined;
  const stop = () => {
    current?.stop();
    current = undefined;
  };
  return {
    close: stop,
    note(message) {
      stop();
      stream.write(`${message}\n`);
    },
    resolved(model, f) {
      stop();
      stream.write(resolvedLine(model, f));
    },
    download(model, file, url): DownloadObserver {
      const label = `${model}/${file}`;
      return {
        start({ total, resumedFrom }) {
          stop();
          const size = total === undefined ? 'size unknown' : formatBytes(total);
          stream.write(`${label}: downloading ${url} (${size}${resumedFrom > 0 ? `, resuming after ${formatBytes(resumedFrom)}` : ''})\n`);
          current = createProgress({ label, total, unit: 'bytes', stream });
        },
        data(received) {
          current?.update(received);
        },
        retry({ attempt, delayMs, reason }) {
          stop();
          stream.write(`${label}: ${reason}; retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s\n`);
        },
      };
    },
  };
}
