/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The gateway serves dist/ under a Content-Security-Policy without 'unsafe-inline': nothing may
// be inlined into index.html (no asset as a data: URL, no inline script or style), and every
// asset name carries its content hash so /assets/* can be cached as immutable.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    sourcemap: false,
    // three.js (the 3D viewer's chunk, ~640 kB before compression) loads only when a model is
    // shown; the warning is for chunks that slow every page.
    chunkSizeWarningLimit: 700,
    rolldownOptions: {
      output: {
        entryFileNames: "assets/[name]-[hash].js",
        chunkFileNames: "assets/[name]-[hash].js",
        assetFileNames: "assets/[name]-[hash][extname]",
      },
    },
  },
  server: {
    // `npm run dev` beside `make run`: the API and the live connection go to the gateway.
    proxy: { "/v1": { target: "http://127.0.0.1:8080", ws: true } },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts", "src/**/*.test.tsx"],
  },
});
