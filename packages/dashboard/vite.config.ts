// The dashboard is served by the control plane under /dashboard/, from this build's output;
// everything it needs is bundled (no CDN), so it works offline.
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/dashboard/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // cytoscape alone is ~400 kB minified; one page, loaded once, from localhost.
    chunkSizeWarningLimit: 1024,
  },
  logLevel: 'warn',
});
