import { defineConfig } from 'vitest/config';

export default defineConfig({
  // xstate's development build throws on misuse that the production build lets slide.
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Files run one at a time: the process tests (bots, simulators, chromium, pm2, chaos) measure
    // timing-sensitive behaviour, and two of them racing on a 2-core machine only measure the race.
    fileParallelism: false,
  },
});
