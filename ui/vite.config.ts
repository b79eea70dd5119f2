import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The UI is served by `sparkplane server` from the same origin (embedded at build time).
// For `npm run dev`, SPARKPLANE_URL names a running server to proxy the API to.
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: process.env.UI_OUT_DIR || 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': { target: process.env.SPARKPLANE_URL || 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
});
