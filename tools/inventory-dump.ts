// Prints what qga-ts's read-only information commands return on this machine (or under --root DIR), one
// JSON object keyed by command name, as {"return": …} or {"error": {"class", "desc"}}. Integers are
// printed exactly. Used by tools/fixture-vm-capture.py inside the VM and by the fixture tests.
//
//   node --import tsx tools/inventory-dump.ts [--root DIR] [COMMAND ...]
import { inventoryHandlers } from '../src/commands/inventory.ts';
import type { AgentContext } from '../src/commands/context.ts';

export function toJsonText(v: unknown): string {
  if (typeof v === 'bigint') return v.toString();
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(toJsonText).join(', ') + ']';
  return (
    '{' +
    Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => JSON.stringify(k) + ': ' + toJsonText(x))
      .join(', ') +
    '}'
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  let root = '/';
  const names: string[] = [];
  while (args.length) {
    const a = args.shift() as string;
    if (a === '--root') root = args.shift() as string;
    else names.push(a);
  }
  const handlers = inventoryHandlers as Record<string, (a: unknown, c: AgentContext) => unknown>;
  const ctx = { root, env: process.env } as unknown as AgentContext;
  const parts: string[] = [];
  for (const name of names.length ? names : Object.keys(handlers)) {
    let text: string;
    try {
      text = '{"return": ' + toJsonText(await handlers[name](undefined, ctx)) + '}';
    } catch (err) {
      const e = err as { errorClass?: string; desc?: string; stack?: string };
      text = toJsonText({ error: { class: e.errorClass ?? 'Exception', desc: e.desc ?? String(e.stack) } });
    }
    parts.push(JSON.stringify(name) + ': ' + text);
  }
  process.stdout.write('{' + parts.join(',\n') + '}\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop() as string)) await main();
