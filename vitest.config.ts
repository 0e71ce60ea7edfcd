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
  },
});
