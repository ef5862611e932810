// call: any command, by name, with JSON arguments.

import { parseLine } from '../../framing.ts';
import { UsageError, type Verb } from '../verb.ts';
import type { JsonValue } from '../../../json/value.ts';

export const call: Verb = {
  name: 'call',
  synopsis: 'COMMAND [JSON-ARGS]',
  summary: 'send any command; prints its return value as JSON',
  details:
    "JSON-ARGS is the command's arguments object, e.g. '{\"handle\": 1000, \"count\": 4096}'.\n" +
    'Integers are kept exact. Commands that answer nothing on success print {}.',
  operands: [1, 2],
  async run(ctx, _values, [command, argsText]) {
    let args: Map<string, JsonValue> | undefined;
    if (argsText !== undefined) {
      const p = parseLine(Buffer.from(argsText, 'utf8'));
      if (!p.ok) throw new UsageError(`JSON-ARGS is not valid JSON: ${p.error}`);
      if (!(p.value instanceof Map)) throw new UsageError('JSON-ARGS must be a JSON object');
      args = p.value;
    }
    const c = await ctx.client();
    const raw = await c.call(command!, args);
    ctx.printJson(raw === undefined ? {} : raw);
    return 0;
  },
};
