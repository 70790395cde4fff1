/**
 * The public models `virnucpro models fetch` knows how to download: where each
 * one lives and which files make it usable by our loaders.
 *
 * ESM-2 3B is fetched in its Hugging Face layout (config.json + weights), not as
 * fair-esm's single `.pt` from dl.fbaipublicfiles.com: the HF directory is what
 * our loader reads too, the hub serves sha256 checksums for its large files
 * (so downloads are verified), and a Hugging Face cache that users already have
 * can be reused without copying.
 */

/** Where a model's files are downloaded from. */
export type ModelSource =
  /** A Hugging Face hub repository: `{hubUrl}/{repo}/resolve/{revision}/{file}`. */
  | { kind: 'huggingface'; repo: string; revision: string }
  /** A GitHub repository's raw files: `{githubRawUrl}/{repo}/{revision}/{file}`. */
  | { kind: 'github-raw'; repo: string; revision: string };

/**
 * One file a model needs. `names` lists acceptable alternatives in order of
 * preference (the first that the server has is fetched; the others are tried
 * on 404), so `['model.safetensors', 'pytorch_model.bin']` means "the weights,
 * in whichever format the repository offers".
 */
export interface ModelFileSpec {
  names: readonly string[];
  /** What the file is, for messages. */
  role: string;
  /**
   * Checksums known in advance, keyed by file name. Hub downloads also get a
   * checksum from the server's headers; files with neither get a computed
   * sha256 recorded in the cache.
   */
  known?: Readonly<Record<string, { gitSha1?: string; sha256?: string }>>;
}

export interface KnownModel {
  id: ModelId;
  description: string;
  source: ModelSource;
  files: readonly ModelFileSpec[];
  /** The flag of `models prepare` / `embed` / `predict` that takes this model's path. */
  usedWith: string;
  /** Classifiers: the chunk length (`predict -e`) the model was trained for. */
  expectedLength?: number;
}

export const MODEL_IDS = ['esm2-3b', 'dnabert-s', 'classifier-300', 'classifier-500'] as const;
export type ModelId = (typeof MODEL_IDS)[number];

/** The commit of github.com/Li-Jing-1997/VirNucPro whose `.pth` files we fetch (pinned so the checksums hold). */
const VIRNUCPRO_COMMIT = '0f93f2755a7ea1acd3ff1bcf182892f960ef3326';

export const KNOWN_MODELS: Readonly<Record<ModelId, KnownModel>> = {
  'esm2-3b': {
    id: 'esm2-3b',
    description: 'ESM-2 3B protein language model (36 layers, 2560 wide), Hugging Face layout',
    source: { kind: 'huggingface', repo: 'facebook/esm2_t36_3B_UR50D', revision: 'main' },
    files: [
      { names: ['config.json'], role: 'model config' },
      { names: ['vocab.txt'], role: 'vocabulary' },
      { names: ['model.safetensors', 'pytorch_model.bin'], role: 'weights' },
    ],
    usedWith: '--esm',
  },
  'dnabert-s': {
    id: 'dnabert-s',
    description: 'DNABERT-S nucleotide embedding model with its tokenizer',
    source: { kind: 'huggingface', repo: 'zhihan1996/DNABERT-S', revision: 'main' },
    files: [
      { names: ['config.json'], role: 'model config' },
      { names: ['tokenizer.json'], role: 'tokenizer' },
      { names: ['model.safetensors', 'pytorch_model.bin'], role: 'weights' },
    ],
    usedWith: '--dnabert',
  },
  'classifier-300': {
    id: 'classifier-300',
    description: 'VirNucPro MLP classifier for 300 bp chunks',
    source: { kind: 'github-raw', repo: 'Li-Jing-1997/VirNucPro', revision: VIRNUCPRO_COMMIT },
    files: [
      {
        names: ['300_model.pth'],
        role: 'classifier',
        // git blob id of the file at the pinned commit (read from the repository's tree).
        known: { '300_model.pth': { gitSha1: 'a0b5b85e7c1e44f00cde146d091beb82b2c8e855' } },
      },
    ],
    usedWith: '--classifier',
    expectedLength: 300,
  },
  'classifier-500': {
    id: 'classifier-500',
    description: 'VirNucPro MLP classifier for 500 bp chunks',
    source: { kind: 'github-raw', repo: 'Li-Jing-1997/VirNucPro', revision: VIRNUCPRO_COMMIT },
    files: [
      {
        names: ['500_model.pth'],
        role: 'classifier',
        known: { '500_model.pth': { gitSha1: 'fc35d5ef9f1f4564eea7036f34f4f8ec6000d33d' } },
      },
    ],
    usedWith: '--classifier',
    expectedLength: 500,
  },
};

/** A published classifier file, recognised by its content wherever it lies and whatever it is called. */
export interface PublishedClassifier {
  id: ModelId;
  /** Its name in the VirNucPro repository. */
  file: string;
  /** The `-e` it was trained for. */
  expectedLength: number;
  gitSha1?: string;
  sha256?: string;
}

/** VirNucPro's classifiers, from the pinned checksums above (GitHub publishes git blob ids, no sha256). */
export const PUBLISHED_CLASSIFIERS: readonly PublishedClassifier[] = Object.values(KNOWN_MODELS).flatMap((m) =>
  m.expectedLength === undefined
    ? []
    : m.files.flatMap((spec) => Object.entries(spec.known ?? {}).map(([file, ids]) => ({ id: m.id, file, expectedLength: m.expectedLength!, ...ids }))),
);

/** The published classifier a file with these checksums is, if any (`table` is replaceable for tests). */
export function publishedClassifier(
  ids: { gitSha1?: string; sha256?: string },
  table: readonly PublishedClassifier[] = PUBLISHED_CLASSIFIERS,
): PublishedClassifier | undefined {
  return table.find((p) => (p.gitSha1 !== undefined && p.gitSha1 === ids.gitSha1) || (p.sha256 !== undefined && p.sha256 === ids.sha256));
}

export function isModelId(name: string): name is ModelId {
  return (MODEL_IDS as readonly string[]).includes(name);
}

/** Default base URLs; `--hub-url` / HF_ENDPOINT and `--github-url` / VIRNUCPRO_GITHUB_RAW_URL override them. */
export const DEFAULT_HUB_URL = 'https://huggingface.co';
export const DEFAULT_GITHUB_RAW_URL = 'https://raw.githubusercontent.com';

export interface SourceUrls {
  hubUrl: string;
  githubRawUrl: string;
}

/** The URL a file of `source` is downloaded from. */
export function fileUrl(source: ModelSource, file: string, urls: SourceUrls): string {
  const path = file.split('/').map(encodeURIComponent).join('/');
  const trim = (u: string) => u.replace(/\/+$/, '');
  if (source.kind === 'huggingface') {
    return `${trim(urls.hubUrl)}/${source.repo}/resolve/${encodeURIComponent(source.revision)}/${path}`;
  }
  return `${trim(urls.githubRawUrl)}/${source.repo}/${encodeURIComponent(source.revision)}/${path}`;
}
