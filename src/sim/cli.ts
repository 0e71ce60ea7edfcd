/**
 * `tsx src/sim/cli.ts --port N --seed S [--outside-trader] [--interval-ms MS] [--fractional-rate R]
 *  [--careless] [--demo-faults] [--host H] [--key-id K --secret-key S]`: start the simulator, print one
 * JSON line, run until SIGINT/SIGTERM. `--fractional-rate` (0..1, with `--outside-trader`): share of
 * fractional equity entries. `--careless`: the outside trader's resting orders may cross a bot's stops
 * and hold their shares (outside-trader.ts). `--demo-faults`: the demo's fault mix (faults.ts), careless.
 */
import { parseArgs } from 'node:util';
import { startSimulator } from './index.js';

function intOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) {
    process.stderr.write(`--${name} must be a non-negative integer, got ${value}\n`);
    process.exit(2);
  }
  return Number(value);
}

function rateOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(n >= 0 && n <= 1)) {
    process.stderr.write(`--${name} must be a number between 0 and 1, got ${value}\n`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      seed: { type: 'string' },
      host: { type: 'string' },
      'outside-trader': { type: 'boolean' },
      'interval-ms': { type: 'string' },
      'fractional-rate': { type: 'string' },
      careless: { type: 'boolean' },
      'demo-faults': { type: 'boolean' },
      'key-id': { type: 'string' },
      'secret-key': { type: 'string' },
    },
    strict: true,
  });
  const port = intOption('port', values.port);
  const seed = intOption('seed', values.seed);
  const intervalMs = intOption('interval-ms', values['interval-ms']);
  const fractionalRate = rateOption('fractional-rate', values['fractional-rate']);
  const trader = {
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    ...(fractionalRate !== undefined ? { fractionalRate } : {}),
    ...(values.careless ? { careless: true } : {}),
  };
  const sim = await startSimulator({
    ...(port !== undefined ? { port } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    ...(values['key-id'] !== undefined ? { keyId: values['key-id'] } : {}),
    ...(values['secret-key'] !== undefined ? { secretKey: values['secret-key'] } : {}),
    ...(values['outside-trader'] ? { outsideTrader: Object.keys(trader).length > 0 ? trader : true } : {}),
    ...(values['demo-faults'] ? { demoFaults: true } : {}),
  });
  process.stdout.write(
    `${JSON.stringify({ event: 'sim_listening', url: sim.url, stream_url: sim.streamUrl, data_url: sim.dataUrl, port: sim.port, seed: sim.seed })}\n`,
  );
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    sim.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
