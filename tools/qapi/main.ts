// CLI: tsx tools/qapi/main.ts <schema.json> <output-dir> [--check] [--target linux]
//
// Parses and checks the schema, generates src/generated/ for the target, and writes only
// the files whose text changed.  --check writes nothing and exits 1 when a file is stale.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { QapiError } from './parser.ts';
import { loadSchema } from './schema.ts';
import { LINUX_TARGET, generate, type Target } from './gen.ts';

const TARGETS: Record<string, Target> = { linux: LINUX_TARGET };

function usage(): never {
  process.stderr.write('usage: tsx tools/qapi/main.ts SCHEMA OUTDIR [--check] [--target linux]\n');
  process.exit(2);
}

function projectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) return process.cwd();
  }
}

function main(argv: string[]): number {
  const positional: string[] = [];
  let check = false;
  let targetName = 'linux';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--check') check = true;
    else if (a === '--target') targetName = argv[++i] ?? usage();
    else if (a.startsWith('--target=')) targetName = a.slice('--target='.length);
    else if (a.startsWith('-')) usage();
    else positional.push(a);
  }
  if (positional.length !== 2) usage();
  const [schemaPath, outDir] = positional as [string, string];
  const target = TARGETS[targetName];
  if (!target) {
    process.stderr.write(`qapi-gen: unknown target '${targetName}'\n`);
    return 2;
  }
  // Name the schema relative to the project root (the nearest directory above the output
  // directory that holds package.json), with '/' separators: the text must not depend on cwd.
  const sourceName = relative(projectRoot(resolve(outDir)), resolve(schemaPath)).split(sep).join('/');
  const schema = loadSchema(schemaPath);
  const result = generate(schema, target, sourceName);
  let stale = 0;
  if (!check) mkdirSync(outDir, { recursive: true });
  for (const file of result.files) {
    const path = join(outDir, file.name);
    let old: string | null = null;
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      old = null;
    }
    if (old === file.text) continue;
    stale++;
    if (check) process.stderr.write(`qapi-gen: ${path} is out of date\n`);
    else writeFileSync(path, file.text);
  }
  const summary = `${result.commands.length} commands for ${target.name}` +
    (result.skippedCommands.length > 0 ? ` (not built: ${result.skippedCommands.join(', ')})` : '');
  if (check) {
    process.stdout.write(stale === 0 ? `qapi-gen: up to date, ${summary}\n` : '');
    return stale === 0 ? 0 : 1;
  }
  process.stdout.write(`qapi-gen: ${stale} file(s) written to ${outDir}, ${summary}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  if (e instanceof QapiError) {
    process.stderr.write(`${e.message}\n`);
    process.exitCode = 1;
  } else {
    throw e;
  }
}
