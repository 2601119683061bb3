// Bundles every js/src/<name>.js entry into nbviz/static/<name>.js (ES module for anywidget).
// Deterministic output: CI rebuilds and fails if the committed bundle differs.
import { build } from "esbuild";
import { readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const entries = readdirSync(join(here, "src"))
  .filter((f) => f.endsWith(".js"))
  .map((f) => join(here, "src", f));

await build({
  entryPoints: entries,
  outdir: join(here, "..", "nbviz", "static"),
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020"],
  legalComments: "none",
  logLevel: "info",
});
