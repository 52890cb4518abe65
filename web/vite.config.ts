import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vitest/config';

/**
 * The console: built into web/dist, which the agenthost server serves at `/`
 * (src/api/routes/console.ts). Hashed files go under assets/ and are cached
 * for a year; index.html is revalidated on every load.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    // One small app: a single chunk keeps loads to three requests.
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
  server: {
    // `npm run dev:web` against a running `agenthost serve`.
    proxy: { '/v1': process.env.AGENTHOST_URL ?? 'http://127.0.0.1:4100' },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
