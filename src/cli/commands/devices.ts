/**
 * `virnucpro devices [--json]`: the devices this machine offers (or those --devices/--gpus name),
 * whether each one's ONNX Runtime provider starts here (probed: runtime/provider-probe.ts), and
 * for each provider that does not, the reason and the fix. Without flags it also says which
 * devices `predict` would use by default.
 */
import type { Command } from 'commander';
import { isSoftwareVulkan, probeProviders, vulkanDriverManifests, type ProbeResult, type ProviderName, type VulkanDevice } from '../../runtime/provider-probe.js';
import { addDeviceOptions, type SchedulerFlags } from '../scheduler-flags.js';
import { defaultDevices, detectNvidiaGpus, resolveDevices, tableWeightFor } from '../../scheduler/devices.js';
import type { DeviceSpec } from '../../scheduler/types.js';

interface DeviceRow {
  device: string;
  name: string;
  memory_mib: number | null;
  weight: number;
  weight_source: string;
  provider: string;
  usable: boolean;
  reason?: string;
}

interface ProviderRow {
  provider: ProviderName;
  usable: boolean;
  reason?: string;
  fix?: string;
  /** ONNX Runtime's error. */
  detail?: string;
  /** WebGPU: the Vulkan driver manifests found. */
  vulkan_drivers?: string[];
  /** WebGPU: the Vulkan devices Dawn chooses from (where Mesa's device-select layer lists them). */
  vulkan_devices?: VulkanDevice[];
  /** WebGPU: every Vulkan device is a software one (lavapipe): WebGPU runs on the CPU. */
  software?: boolean;
}

/** The probe's answer for a device (a CUDA GPU is probed by ordinal; the others once). */
function probeFor(d: DeviceSpec, probes: ProbeResult[]): ProbeResult | undefined {
  return probes.find((p) => p.provider === d.provider && (d.provider !== 'cuda' || p.ordinal === d.ordinal));
}

function deviceRow(d: DeviceSpec, probes: ProbeResult[]): DeviceRow {
  const p = probeFor(d, probes);
  // Dawn picks the adapter; where Mesa's layer listed a single Vulkan device, that is the one.
  const vulkan = d.provider === 'webgpu' && p?.vulkanDevices?.length === 1 ? p.vulkanDevices[0] : undefined;
  return {
    device: d.id,
    name: vulkan ? `WebGPU on ${vulkan.name}` : d.name,
    memory_mib: d.memoryMiB ?? null,
    weight: d.tableWeight,
    weight_source: d.kind === 'cuda' ? (tableWeightFor(d.name).known ? 'built-in table' : 'unknown GPU') : 'default',
    provider: d.provider,
    usable: p?.usable ?? false,
    ...(p && !p.usable ? { reason: p.reason } : {}),
  };
}

/** One row per provider: the first failing probe explains it (all GPUs of a machine fail alike in practice). */
function providerRows(probes: ProbeResult[], gpusFound: boolean): ProviderRow[] {
  const rows: ProviderRow[] = [];
  for (const provider of ['cpu', 'webgpu', 'cuda'] as const) {
    const mine = probes.filter((p) => p.provider === provider);
    const failed = mine.find((p) => !p.usable);
    let row: ProviderRow;
    if (provider === 'cuda' && mine.length === 0) {
      row = {
        provider,
        usable: false,
        reason: gpusFound ? 'no CUDA device was asked for' : 'no NVIDIA GPU found (nvidia-smi is missing or lists none)',
        fix: gpusFound ? 'name one with --devices cuda:N' : 'CUDA needs an NVIDIA GPU and its driver; on other GPUs use --device webgpu',
      };
    } else if (failed) {
      row = { provider, usable: mine.some((p) => p.usable), reason: failed.reason, fix: failed.fix, detail: failed.detail };
    } else {
      row = { provider, usable: true };
    }
    if (provider === 'webgpu') {
      row.vulkan_drivers = vulkanDriverManifests();
      const listed = mine.find((p) => p.vulkanDevices)?.vulkanDevices;
      if (listed) {
        row.vulkan_devices = listed;
        row.software = isSoftwareVulkan(listed);
      }
    }
    rows.push(row);
  }
  return rows;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => `${row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()}\n`).join('');
}

export function registerDevices(program: Command): void {
  const cmd = program
    .command('devices')
    .description('list the devices here, whether each provider (CPU, WebGPU, CUDA) starts, and how to fix one that does not');
  addDeviceOptions(cmd)
    .option('--json', 'print JSON')
    .action(async (opts: SchedulerFlags & { json?: boolean }) => {
      const gpus = await detectNvidiaGpus();
      const named = opts.devices !== undefined || opts.gpus !== undefined;
      // With flags: the devices they name. Without: everything this machine offers.
      const devices = named
        ? resolveDevices({ devices: opts.devices, gpus: opts.gpus }, gpus)
        : [...resolveDevices({ devices: gpus.length > 0 ? 'cuda' : 'cpu' }, gpus), ...resolveDevices({ devices: 'webgpu' }, []), ...(gpus.length > 0 ? resolveDevices({ devices: 'cpu' }, []) : [])];
      const cudaOrdinals = devices.filter((d) => d.kind === 'cuda').map((d) => d.ordinal);
      const probes = await probeProviders({ cpu: true, webgpu: true, cudaOrdinals });
      const deviceRows = devices.map((d) => deviceRow(d, probes));
      const providers = providerRows(probes, gpus.length > 0);
      // What predict picks with no device flag: the same probe results, so the two agree.
      const byDefault = named ? undefined : (await defaultDevices(gpus, async () => probes.filter((p) => p.provider === 'cuda'))).devices.map((d) => d.id);

      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ devices: deviceRows, providers, ...(byDefault ? { default_devices: byDefault } : {}) }, null, 2)}\n`);
        return;
      }
      process.stdout.write(
        table([
          ['device', 'name', 'memory', 'weight', 'provider', 'status'],
          ...deviceRows.map((r) => [
            r.device,
            r.name,
            r.memory_mib === null ? '-' : `${(r.memory_mib / 1024).toFixed(1)} GiB`,
            `${r.weight} (${r.weight_source})`,
            r.provider,
            r.usable ? 'usable' : `not usable: ${r.reason}`,
          ]),
        ]),
      );
      process.stdout.write('\nproviders:\n');
      for (const p of providers) {
        const drivers = p.vulkan_devices?.length
          ? ` (Vulkan devices: ${p.vulkan_devices.map((v) => `${v.name} [${v.type}]`).join(', ')})`
          : p.vulkan_drivers?.length
            ? ` (Vulkan drivers: ${p.vulkan_drivers.map((f) => f.split('/').pop()).join(', ')})`
            : '';
        process.stdout.write(`  ${p.provider.padEnd(6)}  ${p.usable ? 'starts' : `does not start: ${p.reason}`}${drivers}\n`);
        if (p.software) process.stdout.write(`          a software Vulkan driver (lavapipe): WebGPU then runs on the CPU, right for tests, not for speed\n`);
        if (!p.usable && p.fix) process.stdout.write(`          fix: ${p.fix}\n`);
      }
      if (byDefault) process.stdout.write(`\npredict uses by default: ${byDefault.join(', ')}\n`);
    });
}
