#!/usr/bin/env node
// Generate the documentation tables from the catalog (lib/pki/catalog.ts):
// the certificate table in README.md (between its catalog markers),
// docs/catalog.md and docs/cis.md (from the audit's checks). `--check` writes
// nothing and exits 1 when any is stale.
// Needs the build (npm run build): it reads dist/lib/docs/tables.js.
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const built = path.join(root, 'dist/lib/docs/tables.js');
if (!existsSync(built)) {
  process.stderr.write(`gen-docs: ${built} is missing; run npm run build first\n`);
  process.exit(2);
}
const { catalogMarkdown, cisMarkdown, withReadmeTable } = await import(pathToFileURL(built).href);
const check = process.argv.includes('--check');
const outputs = [
  [path.join(root, 'README.md'), withReadmeTable(readFileSync(path.join(root, 'README.md'), 'utf8'))],
  [path.join(root, 'docs/catalog.md'), catalogMarkdown()],
  [path.join(root, 'docs/cis.md'), cisMarkdown()],
];
let stale = 0;
for (const [file, text] of outputs) {
  const now = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (now === text) continue;
  stale++;
  if (check) process.stderr.write(`gen-docs: ${path.relative(root, file)} is not what the catalog gives; run scripts/gen-docs.mjs\n`);
  else {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
    process.stdout.write(`gen-docs: wrote ${path.relative(root, file)}\n`);
  }
}
process.exit(check && stale ? 1 : 0);
