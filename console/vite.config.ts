import { defineConfig } from 'vite';

// esbuild's own JSX transform (no Babel, no React plugin): the build stays a couple of seconds, and the output
// is plain files the relay serves under its strict CSP (no inline script or style).
export default defineConfig({
  root: import.meta.dirname,
  esbuild: { jsx: 'automatic', jsxImportSource: 'react' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The one inline thing Vite would add is its modulepreload polyfill; every browser we target has it.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // zod's sources carry /* @__PURE__ */ comments where Rollup cannot use them; harmless, and not ours.
      onwarn(warning, warn) {
        if (warning.code !== 'INVALID_ANNOTATION') warn(warning);
      },
    },
  },
});
