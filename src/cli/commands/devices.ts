import type { Command } from 'commander';
import { addDeviceOptions, schedulerSettingsFrom, type SchedulerFlags } from '../../scheduler/cli-options.js';
import { cudaProviderInstalled, tableWeightFor } from '../../scheduler/devices.js';
import type { DeviceSpec } from '../../scheduler/types.js';

interface DeviceListing {
  device: string;
  name: string;
  memory_mib: number | null;
  weight: number;
  weight_source: string;
  provider: string;
  provider_installed: boolean;
}

function listing(d: DeviceSpec, cudaInstalled: boolean): DeviceListing {
  const known = d.kind === 'cuda' ? tableWeightFor(d.name).known : false;
  return {
    device: d.id,
    name: d.name,
    memory_mib: d.memoryMiB ?? null,
    weight: d.tableWeight,
    weight_source: d.kind === 'cuda' ? (known ? 'built-in table' : 'unknown GPU') : 'default',
    provider: d.provider,
    // cpu and webgpu ship with onnxruntime-node; cuda needs the provider libraries (README, GPUs).
    provider_installed: d.provider === 'cuda' ? cudaInstalled : true,
  };
}

/** `virnucpro devices`: what --devices would use here (name, memory, weight, provider). */
export function registerDevices(program: Command): void {
  const cmd = program.command('devices').description('list the devices usable here (name, memory, capability weight, execution provider)');
  addDeviceOptions(cmd)
    .option('--json', 'print JSON')
    .action(async (opts: SchedulerFlags & { json?: boolean }) => {
      const { devices } = await schedulerSettingsFrom(opts);
      const cudaInstalled = devices.some((d) => d.provider === 'cuda') && cudaProviderInstalled();
      const rows = devices.map((d) => listing(d, cudaInstalled));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ devices: rows }, null, 2)}\n`);
        return;
      }
      const table = [
        ['device', 'name', 'memory', 'weight', 'provider'],
        ...rows.map((r) => [
          r.device,
          r.name,
          r.memory_mib === null ? '-' : `${(r.memory_mib / 1024).toFixed(1)} GiB`,
          `${r.weight} (${r.weight_source})`,
          r.provider_installed ? r.provider : `${r.provider} (not installed)`,
        ]),
      ];
      const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
      for (const row of table) process.stdout.write(`${row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()}\n`);
      if (rows.some((r) => !r.provider_installed)) {
        process.stdout.write('CUDA provider libraries are not installed: npm install --onnxruntime-node-install=cuda12\n');
      }
    });
}
