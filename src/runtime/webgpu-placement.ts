/**
 * Where ONNX Runtime runs each node of a model when a GPU execution provider
 * (WebGPU, CUDA) is asked for. A node the provider does not implement (or one
 * ORT keeps on the host, such as int64 shape arithmetic) runs on the CPU
 * provider, with copies between host and device around it, silently: fine for
 * a Shape or a mask comparison on [B, T] integers, a loss of most of the GPU's
 * speed for a MatMul, a LayerNorm or the pooling of the hidden states.
 *
 * ORT prints the placement ("Node(s) placed on [WebGpuExecutionProvider]...",
 * one line per node) at session creation when the session log level is
 * verbose. That log goes to the process's stderr from C++, so the session is
 * opened in a child process and its stderr is read.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { GraphBuilder } from '../formats/onnx/graph.js';

export type GpuProvider = 'webgpu' | 'cuda';

/** One node as ORT's placement log names it. */
export interface PlacedNode {
  opType: string;
  /** Node name: ours (`MatMul_44`) or the name of a node ORT's optimizer made (`Gelu_token_0`). */
  name: string;
}

/** Where the nodes went: by execution provider (`WebGpuExecutionProvider`, `CPUExecutionProvider`, ...). */
export interface Placement {
  /** The nodes each provider runs, as listed in the log. */
  byProvider: Map<string, PlacedNode[]>;
  /** Set when ORT placed every node on one provider: it then logs no per-node list. */
  allOn?: string;
}

/** ORT's name for the CPU provider in the placement log. */
export const CPU_PROVIDER = 'CPUExecutionProvider';

/**
 * Compute-heavy op types: one of these on the CPU is wrong even when its inputs are small
 * (also covers nodes ORT's optimizer creates, which are not in our graph).
 */
export const HEAVY_OPS: ReadonlySet<string> = new Set([
  'MatMul',
  'FusedMatMul',
  'Gemm',
  'MultiHeadAttention',
  'Attention',
  'GroupQueryAttention',
  'Softmax',
  'LayerNormalization',
  'SkipLayerNormalization',
  'SimplifiedLayerNormalization',
  'Gelu',
  'FastGelu',
  'BiasGelu',
  'Erf',
  'RotaryEmbedding',
  'BatchNormalization',
  'Conv',
]);

/**
 * Parses the verbose session log: "All nodes placed on [EP]. Number of nodes: N", or
 * "Node(s) placed on [EP]. Number of nodes: N" blocks followed by one "OpType (name)" line per node.
 */
export function parsePlacementLog(log: string): Placement {
  const byProvider = new Map<string, PlacedNode[]>();
  let allOn: string | undefined;
  let current: PlacedNode[] | undefined;
  for (const line of log.split('\n')) {
    const all = /All nodes placed on \[(\w+)\]\. Number of nodes: \d+/.exec(line);
    if (all) allOn = all[1];
    const header = /Node\(s\) placed on \[(\w+)\]\. Number of nodes: \d+/.exec(line);
    if (header) {
      current = [];
      byProvider.set(header[1], current);
      continue;
    }
    const node = /VerifyEachNodeIsAssignedToAnEp\] {3}(\S+) \((.*)\)\s*$/.exec(line);
    if (node && current) current.push({ opType: node[1], name: node[2] });
    else current = undefined;
  }
  return { byProvider, allOn };
}

/**
 * Values on the activation path of `graph`: every value computed (transitively) from a float
 * weight or a float graph input. Nodes off this path only touch token ids, masks and shapes.
 */
export function activationValues(graph: GraphBuilder): Set<string> {
  const isFloat = (t: string) => t === 'float32' || t === 'float16' || t === 'float64' || t === 'bfloat16';
  const active = new Set<string>([
    ...graph.weights.filter((w) => isFloat(w.elemType)).map((w) => w.name),
    ...graph.inputs.filter((i) => isFloat(i.elemType)).map((i) => i.name),
  ]);
  for (const n of graph.nodes) {
    // A shape is host metadata, whatever it was read from.
    if (n.opType !== 'Shape' && n.opType !== 'Size' && n.inputs.some((i) => active.has(i))) n.outputs.forEach((o) => active.add(o));
  }
  return active;
}

/**
 * The nodes that must not run on the CPU but do: a HEAVY_OPS type, or any node of `graph`
 * on the activation path (its data is [B, T, E]-sized: a host copy each way).
 */
export function heavyNodesOnCpu(graph: GraphBuilder, placement: Placement): PlacedNode[] {
  const active = activationValues(graph);
  const activeNodes = new Set(graph.nodes.filter((n) => n.outputs.some((o) => active.has(o))).map((n) => n.name));
  const onCpu = placement.allOn === CPU_PROVIDER ? graph.nodes.map((n) => ({ opType: n.opType, name: n.name })) : (placement.byProvider.get(CPU_PROVIDER) ?? []);
  return onCpu.filter((n) => HEAVY_OPS.has(n.opType) || activeNodes.has(n.name));
}

/**
 * Opens `modelPath` with `provider` (then ORT's CPU provider for the rest) in a child process with
 * verbose logging and returns where each node was placed. Throws when the session cannot be opened
 * (no adapter, no CUDA provider) with the child's last error line.
 */
export async function nodePlacement(modelPath: string, provider: GpuProvider, timeoutMs = 120_000): Promise<Placement> {
  const ort = createRequire(import.meta.url).resolve('onnxruntime-node');
  const child = spawn(process.execPath, ['-e', CHILD, ort, modelPath, provider], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (log += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  }).finally(() => clearTimeout(timer));
  const placement = parsePlacementLog(log);
  if (code !== 0 || (placement.byProvider.size === 0 && !placement.allOn)) {
    // The child's own error line is the last one that is not ORT's verbose or info logging.
    const last = log.trim().split('\n').filter((l) => !/\[[VI]:onnxruntime/.test(l)).pop() ?? '';
    throw new Error(`could not open ${modelPath} with the ${provider} provider (exit code ${code}): ${last.slice(0, 300)}`);
  }
  return placement;
}

/** The child: CommonJS, no imports of ours, so it runs the same under tsx and from dist/. argv: ORT module, model, provider. */
const CHILD = `
const [ortPath, model, provider] = process.argv.slice(1);
const ort = require(ortPath);
ort.InferenceSession.create(model, { executionProviders: [provider], logSeverityLevel: 0, logVerbosityLevel: 0 })
  .then((s) => s.release())
  .catch((e) => { process.stderr.write(String((e && e.message) || e) + '\\n'); process.exitCode = 1; });
`;
