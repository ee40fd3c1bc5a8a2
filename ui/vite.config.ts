import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The app loads only its own files: no CDN, no remote fonts, nothing inline the CSP would refuse.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, assetsInlineLimit: 0 },
  test: { environment: "node" },
});
