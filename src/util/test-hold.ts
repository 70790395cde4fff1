/**
 * Fault injection for the crash/resume tests: with VIRNUCPRO_TEST_HOLD=<point>
 * the process announces `VIRNUCPRO_TEST_HOLD <point>` on stderr when it reaches
 * that point and then waits forever, so a test can SIGKILL it in a known state.
 * Points: `plan` (mid-planning, after the first shard file), `compute` (after the
 * first shard result, others in flight), `outputs` (result files half written),
 * `unit` (a queue worker that has taken a unit, its lock still renewed).
 * Unset, it costs one environment lookup.
 */
export async function holdPoint(point: 'plan' | 'compute' | 'outputs' | 'unit'): Promise<void> {
  if (process.env.VIRNUCPRO_TEST_HOLD !== point) return;
  process.stderr.write(`VIRNUCPRO_TEST_HOLD ${point}\n`);
  await new Promise<never>(() => {
    setInterval(() => undefined, 1 << 30);
  });
}

/**
 * Fault injection for the incomplete-run tests: with VIRNUCPRO_TEST_FAIL_SHARD=<n>
 * the worker fails shard n every time (as a shard that crashes every device would).
 */
export function failShardPoint(shard: number): void {
  if (process.env.VIRNUCPRO_TEST_FAIL_SHARD === String(shard)) {
    throw new Error(`VIRNUCPRO_TEST_FAIL_SHARD: shard ${shard} fails on purpose`);
  }
}
