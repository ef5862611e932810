// QAPI code generator: checked schema + build target → src/generated/*.ts.
//
//   qapi-types.ts     a TS type per struct/enum/union/alternate built on the target, input
//                     variants (suffix "Input") where argument and return shapes differ, and
//                     per command an Args and a Return type
//   qapi-visit.ts     visit functions for every type that command arguments use, driving
//                     src/protocol/input-visitor.ts, and one argument visitor per command
//   qapi-commands.ts  commandTable (registration order) and the Handlers type
//   qapi-client.ts    the host side: reply types with exact integers, argument types that
//                     take number | bigint, shape tables for src/client/convert.ts, and the
//                     abstract class QgaCommands with one typed method per command
//
// Output is a pure function of the schema and the target: no timestamps, no absolute paths.

import type {
  CommandDef,
  Definition,
  EnumDef,
  IfCond,
  Member,
  Schema,
  StructDef,
  TypeDef,
  TypeExpr,
  UnionDef,
} from './schema.ts';
import { BUILTIN_TYPES, describe, isBuiltin } from './schema.ts';
import type { QapiDoc } from './parser.ts';
import { QapiError } from './parser.ts';

// ---- targets ----------------------------------------------------------------------------

export interface Target {
  readonly name: string;
  /** Condition symbols that hold. */
  readonly defined: ReadonlySet<string>;
  /** Condition symbols known not to hold.  Any other symbol is an error. */
  readonly undefinedSymbols: ReadonlySet<string>;
}

/**
 * A Debian Linux build of qemu-ga, as QEMU's meson.build decides it: POSIX and Linux;
 * FIFREEZE/FITRIM in linux/fs.h (CONFIG_FSFREEZE, CONFIG_FSTRIM); libudev found
 * (CONFIG_LIBUDEV); getloadavg(), getifaddrs() and struct utmpx available
 * (CONFIG_GETLOADAVG, HAVE_GETIFADDRS, HAVE_UTMPX).  Not Windows, not a BSD, not macOS.
 */
export const LINUX_TARGET: Target = {
  name: 'linux',
  defined: new Set([
    'CONFIG_POSIX',
    'CONFIG_LINUX',
    'CONFIG_FSFREEZE',
    'CONFIG_FSTRIM',
    'CONFIG_LIBUDEV',
    'CONFIG_GETLOADAVG',
    'HAVE_GETIFADDRS',
    'HAVE_UTMPX',
  ]),
  undefinedSymbols: new Set([
    'CONFIG_WIN32',
    'CONFIG_BSD',
    'CONFIG_FREEBSD',
    'CONFIG_DARWIN',
    'CONFIG_SOLARIS',
    'CONFIG_QGA_VSS',
    'CONFIG_QGA_NTDDSCSI',
  ]),
};

export function evalCond(cond: IfCond | undefined, target: Target, where: string): boolean {
  if (cond === undefined) return true;
  if (typeof cond === 'string') {
    if (target.defined.has(cond)) return true;
    if (target.undefinedSymbols.has(cond)) return false;
    throw new QapiError(null, `${where}: condition symbol '${cond}' is unknown for target '${target.name}'`);
  }
  if ('not' in cond) return !evalCond(cond.not, target, where);
  // Evaluate every operand so that unknown symbols are always reported.
  if ('all' in cond) return cond.all.map((c) => evalCond(c, target, where)).every(Boolean);
  return cond.any.map((c) => evalCond(c, target, where)).some(Boolean);
}

// ---- the built view: conditions applied -------------------------------------------------

interface Built {
  readonly schema: Schema;
  readonly target: Target;
  /** Types built on the target, in schema order, with conditional parts removed. */
  readonly types: Map<string, TypeDef>;
  readonly commands: CommandDef[];
  /** Commands of the schema not built on the target. */
  readonly skippedCommands: string[];
}

function filterMembers(members: readonly Member[], target: Target, where: string): Member[] {
  return members.filter((m) => evalCond(m.if, target, `${where} member '${m.name}'`));
}

function applyTarget(schema: Schema, target: Target): Built {
  const types = new Map<string, TypeDef>();
  const commands: CommandDef[] = [];
  const skippedCommands: string[] = [];
  for (const def of schema.definitions) {
    const where = describe(def);
    const on = evalCond(def.if, target, where);
    if (def.meta === 'command') {
      if (!on) {
        skippedCommands.push(def.name);
        continue;
      }
      commands.push(Array.isArray(def.data) ? { ...def, data: filterMembers(def.data, target, where) } : def);
      continue;
    }
    if (!on || def.meta === 'event') continue;
    switch (def.meta) {
      case 'enum':
        types.set(def.name, { ...def, values: def.values.filter((v) => evalCond(v.if, target, `${where} value '${v.name}'`)) });
        break;
      case 'struct':
        types.set(def.name, { ...def, members: filterMembers(def.members, target, where) });
        break;
      case 'union':
        types.set(def.name, {
          ...def,
          base: typeof def.base === 'string' ? def.base : filterMembers(def.base, target, where),
          branches: def.branches.filter((b) => evalCond(b.if, target, `${where} branch '${b.name}'`)),
        });
        break;
      case 'alternate':
        types.set(def.name, { ...def, branches: def.branches.filter((b) => evalCond(b.if, target, `${where} branch '${b.name}'`)) });
        break;
    }
  }
  const built: Built = { schema, target, types, commands, skippedCommands };
  // Everything a built definition refers to must be built too.
  const need = (t: TypeExpr | string | undefined, user: Definition, what: string) => {
    if (t === undefined) return;
    const name = typeof t === 'string' ? t : t.array;
    if (!isBuiltin(name) && !types.has(name)) {
      throw new QapiError(user.info, `${describe(user)}: ${what} uses type '${name}', which is not built for target '${target.name}'`);
    }
  };
  for (const def of [...types.values(), ...commands]) {
    switch (def.meta) {
      case 'struct':
        need(def.base, def, "'base'");
        def.members.forEach((m) => need(m.type, def, `member '${m.name}'`));
        break;
      case 'union':
        if (typeof def.base === 'string') need(def.base, def, "'base'");
        else def.base.forEach((m) => need(m.type, def, `member '${m.name}'`));
        def.branches.forEach((b) => need(b.type, def, `branch '${b.name}'`));
        break;
      case 'alternate':
        def.branches.forEach((b) => need(b.type, def, `branch '${b.name}'`));
        break;
      case 'command':
        if (typeof def.data === 'string') need(def.data, def, "'data'");
        else def.data?.forEach((m) => need(m.type, def, `member '${m.name}'`));
        need(def.returns, def, "'returns'");
        break;
      case 'enum':
        break;
    }
  }
  for (const u of types.values()) {
    if (u.meta !== 'union') continue;
    const disc = baseMembers(built, u).find((m) => m.name === u.discriminator);
    if (!disc) throw new QapiError(u.info, `${describe(u)}: discriminator '${u.discriminator}' is not built for target '${target.name}'`);
  }
  return built;
}

function typeDef(b: Built, name: string): TypeDef {
  const t = b.types.get(name);
  if (!t) throw new Error(`internal: type '${name}' not built`);
  return t;
}

/** All members of a struct on the wire: base members first. */
function structMembers(b: Built, def: StructDef): Member[] {
  const base = def.base === undefined ? [] : structMembers(b, typeDef(b, def.base) as StructDef);
  return [...base, ...def.members];
}

function baseMembers(b: Built, def: UnionDef): Member[] {
  return typeof def.base === 'string' ? structMembers(b, typeDef(b, def.base) as StructDef) : [...def.base];
}

function commandMembers(b: Built, def: CommandDef): Member[] | null {
  if (def.data === undefined) return null;
  if (typeof def.data === 'string') {
    const t = typeDef(b, def.data);
    if (t.meta !== 'struct') throw new QapiError(def.info, `${describe(def)}: only struct 'data' is supported by the generator`);
    return structMembers(b, t);
  }
  return [...def.data];
}

// ---- naming -----------------------------------------------------------------------------

/** The project's command feature for queries that change nothing (served concurrently with --max-clients). */
export const READ_ONLY_FEATURE = '__io.qga-ts_read-only';

function isReadOnly(c: CommandDef): boolean {
  return c.features.some((f) => f.name === READ_ONLY_FEATURE);
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

function tsIdent(name: string): string {
  const id = name.replace(/[^A-Za-z0-9_$]/g, '_');
  return /^[0-9]/.test(id) ? `_${id}` : id;
}

function pascal(name: string): string {
  return name
    .split(/[-_.]/)
    .filter((p) => p !== '')
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

function propKey(name: string): string {
  return IDENT.test(name) ? name : quote(name);
}

function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function argsTypeName(command: string): string {
  return `${pascal(command)}Args`;
}

export function returnTypeName(command: string): string {
  return `${pascal(command)}Return`;
}

function enumValuesName(name: string): string {
  return `${tsIdent(name)}Values`;
}

// ---- type mapping -----------------------------------------------------------------------

/**
 * 'in': what handlers receive (exact bigint integers); 'out': what handlers return and what
 * clients may send (number | bigint); 'reply': what the client hands its callers (bigint for
 * 64-bit integer types, number for types of 32 bits or fewer).
 */
type Mode = 'in' | 'out' | 'reply';

/** Integer types whose every value is a safe JS number. */
const SMALL_INTS: ReadonlySet<string> = new Set(['int8', 'int16', 'int32', 'uint8', 'uint16', 'uint32']);

/** Which types' input shape differs from their output shape (they contain integers). */
function computeDiffers(b: Built): Set<string> {
  const memo = new Map<string, boolean>();
  const exprDiffers = (t: TypeExpr): boolean => {
    const name = typeof t === 'string' ? t : t.array;
    const builtin = BUILTIN_TYPES.get(name);
    if (builtin !== undefined) return builtin === 'int' || builtin === 'value';
    return differs(name);
  };
  const differs = (name: string): boolean => {
    const known = memo.get(name);
    if (known !== undefined) return known;
    memo.set(name, false); // cycles (through lists) resolve to "no" unless proven otherwise
    const def = typeDef(b, name);
    let r = false;
    switch (def.meta) {
      case 'enum':
        r = false;
        break;
      case 'struct':
        r = structMembers(b, def).some((m) => exprDiffers(m.type));
        break;
      case 'union':
        r = baseMembers(b, def).some((m) => exprDiffers(m.type)) || def.branches.some((br) => differs(br.type));
        break;
      case 'alternate':
        r = def.branches.some((br) => exprDiffers(br.type));
        break;
    }
    memo.set(name, r);
    return r;
  };
  const out = new Set<string>();
  for (const name of b.types.keys()) if (differs(name)) out.add(name);
  return out;
}

interface Gen {
  readonly b: Built;
  readonly differs: ReadonlySet<string>;
  /** Types reachable from command arguments. */
  readonly argTypes: ReadonlySet<string>;
}

function namedTs(g: Gen, name: string, mode: Mode, qualifier = ''): string {
  const id = tsIdent(name);
  return mode === 'in' && g.differs.has(name) ? `${qualifier}${id}Input` : `${qualifier}${id}`;
}

function tsType(g: Gen, t: TypeExpr, mode: Mode, qualifier = ''): string {
  if (typeof t !== 'string') {
    const elem = tsType(g, t.array, mode, qualifier);
    return /[|&]/.test(elem) ? `(${elem})[]` : `${elem}[]`;
  }
  switch (BUILTIN_TYPES.get(t)) {
    case 'int':
      if (mode === 'reply') return SMALL_INTS.has(t) ? 'number' : 'bigint';
      return mode === 'in' ? 'bigint' : 'number | bigint';
    case 'number':
      return 'number';
    case 'string':
      return 'string';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'value':
      if (mode === 'reply') return 'unknown';
      return mode === 'in' ? 'JsonValue' : 'OutValue';
    case undefined:
      return namedTs(g, t, mode, qualifier);
  }
}

/** Named types reachable from command arguments (a named argument struct included). */
function collectArgTypes(b: Built): Set<string> {
  const roots: TypeExpr[] = [];
  for (const c of b.commands) {
    if (typeof c.data === 'string') roots.push(c.data);
    else c.data?.forEach((m) => roots.push(m.type));
  }
  return new Set(reachableTypes(b, roots));
}

// ---- text helpers -----------------------------------------------------------------------

export const HEADER = '// generated by tools/qapi — do not edit';

function jsdoc(lines: string[], indent = ''): string {
  // QAPI '@name' references (downstream '@__rfqdn_name' too) become `name`, so JSDoc never mistakes them for tags.
  const clean = lines
    .flatMap((l) => l.split('\n'))
    .map((l) => l.replace(/\*\//g, '*\\/').replace(/(?<!\{)@((?:__[a-z0-9.-]+_)?[A-Za-z][A-Za-z0-9_-]*)/g, '`$1`').trimEnd());
  while (clean.length > 0 && clean[clean.length - 1] === '') clean.pop();
  if (clean.length === 0) return '';
  if (clean.length === 1) return `${indent}/** ${clean[0]} */\n`;
  return `${indent}/**\n${clean.map((l) => (l === '' ? `${indent} *` : `${indent} * ${l}`)).join('\n')}\n${indent} */\n`;
}

function since(doc: QapiDoc | null): string | undefined {
  return doc?.sections.find((s) => s.tag === 'Since')?.text;
}

function defDoc(def: Definition, extra: string[] = []): string {
  const lines: string[] = [];
  const body = def.doc?.body ?? '';
  if (body !== '') lines.push(body);
  const s = since(def.doc);
  const tail = `QAPI ${def.meta} '${def.name}'${s === undefined ? '' : `, since ${s}`}.`;
  lines.push(...(lines.length > 0 ? ['', tail] : [tail]), ...extra);
  return jsdoc(lines);
}

function memberDoc(def: Definition | null, name: string, indent: string): string {
  const text = def?.doc?.args.get(name)?.text;
  return text === undefined || text === '' ? '' : jsdoc([text], indent);
}

/** The definition whose documentation describes `member` of `def` (base members: the base's). */
function docOwner(b: Built, def: StructDef | UnionDef, member: string): Definition | null {
  if (def.meta === 'struct') {
    if (def.members.some((m) => m.name === member)) return def;
    return def.base === undefined ? null : docOwner(b, typeDef(b, def.base) as StructDef, member);
  }
  if (typeof def.base !== 'string') return def;
  return docOwner(b, typeDef(b, def.base) as StructDef, member);
}

function objectBody(g: Gen, members: readonly Member[], mode: Mode, owner: (m: string) => Definition | null, indent = '  ', qualifier = ''): string {
  return members
    .map((m) => `${memberDoc(owner(m.name), m.name, indent)}${indent}${propKey(m.name)}${m.optional ? '?' : ''}: ${tsType(g, m.type, mode, qualifier)};\n`)
    .join('');
}

// ---- qapi-types.ts ----------------------------------------------------------------------

function genTypes(g: Gen, sourceName: string): string {
  const { b } = g;
  let out = `${HEADER}\n`;
  out += `// source: ${sourceName}; target: ${b.target.name}\n`;
  out += '//\n';
  out += '// One type per struct, enum, union and alternate built on the target; integers are\n';
  out += '// `number | bigint` (what handlers may return).  Types that command arguments use and\n';
  out += '// that contain integers also get an `...Input` variant with exact `bigint` integers.\n';
  out += '// Per command: `<Command>Args` (what the handler receives) and `<Command>Return`.\n\n';
  if (usesAny(b)) out += "import type { JsonValue, OutValue } from '../json/value.ts';\n\n";

  const emitted = new Set<string>();
  const claim = (name: string, def: Definition) => {
    if (emitted.has(name)) throw new QapiError(def.info, `${describe(def)}: generated name '${name}' collides with another generated name`);
    emitted.add(name);
  };

  for (const def of b.types.values()) {
    const id = tsIdent(def.name);
    switch (def.meta) {
      case 'enum': {
        claim(id, def);
        claim(enumValuesName(def.name), def);
        out += defDoc(def, def.values.map((v) => `- \`${v.name}\`${def.doc?.args.get(v.name) ? `: ${def.doc.args.get(v.name)!.text.replace(/\n/g, ' ')}` : ''}`));
        out += `export type ${id} = ${def.values.length === 0 ? 'never' : def.values.map((v) => quote(v.name)).join(' | ')};\n`;
        out += `export const ${enumValuesName(def.name)}: readonly ${id}[] = [${def.values.map((v) => quote(v.name)).join(', ')}];\n\n`;
        break;
      }
      case 'struct': {
        const members = structMembers(b, def);
        for (const mode of modesOf(g, def.name)) {
          const name = namedTs(g, def.name, mode);
          claim(name, def);
          out += mode === 'out' ? defDoc(def) : jsdoc([`Input form of {@link ${id}}: integers are exact bigints.`]);
          out += `export type ${name} = {\n${objectBody(g, members, mode, (m) => docOwner(b, def, m))}};\n\n`;
        }
        break;
      }
      case 'union': {
        const base = baseMembers(b, def);
        const others = base.filter((m) => m.name !== def.discriminator);
        const disc = base.find((m) => m.name === def.discriminator)!;
        const enumDef = typeDef(b, disc.type as string) as EnumDef;
        for (const mode of modesOf(g, def.name)) {
          const name = namedTs(g, def.name, mode);
          claim(name, def);
          out += mode === 'out' ? defDoc(def) : jsdoc([`Input form of {@link ${id}}: integers are exact bigints.`]);
          const variant = (tag: string, extra: string) =>
            `  | ({ ${[`${propKey(disc.name)}: ${tag}`, ...others.map((m) => `${propKey(m.name)}${m.optional ? '?' : ''}: ${tsType(g, m.type, mode)}`)].join('; ')} }${extra})\n`;
          const withBranch = new Set(def.branches.map((br) => br.name));
          let body = '';
          for (const br of def.branches) body += variant(quote(br.name), ` & ${namedTs(g, br.type, mode)}`);
          const rest = enumDef.values.filter((v) => !withBranch.has(v.name));
          if (rest.length > 0) body += variant(rest.map((v) => quote(v.name)).join(' | '), '');
          out += `export type ${name} =\n${body === '' ? '  never\n' : body}`.replace(/\n$/, ';\n') + '\n';
        }
        break;
      }
      case 'alternate': {
        for (const mode of modesOf(g, def.name)) {
          const name = namedTs(g, def.name, mode);
          claim(name, def);
          out += mode === 'out' ? defDoc(def, def.branches.map((br) => `- ${br.name}: ${def.doc?.args.get(br.name)?.text.replace(/\n/g, ' ') ?? ''}`.trimEnd())) : jsdoc([`Input form of {@link ${id}}: integers are exact bigints.`]);
          out += `export type ${name} = ${def.branches.map((br) => tsType(g, br.type, mode)).join(' | ')};\n\n`;
        }
        break;
      }
    }
  }

  out += '// ---- commands ----\n\n';
  for (const c of b.commands) {
    const members = commandMembers(b, c);
    const argsName = argsTypeName(c.name);
    const retName = returnTypeName(c.name);
    claim(argsName, c);
    claim(retName, c);
    out += jsdoc([`Arguments of \`${c.name}\`.`]);
    if (members === null || members.length === 0) out += `export type ${argsName} = Record<string, never>;\n`;
    else if (typeof c.data === 'string') out += `export type ${argsName} = ${namedTs(g, c.data, 'in')};\n`;
    else out += `export type ${argsName} = {\n${objectBody(g, members, 'in', () => c)}};\n`;
    out += jsdoc([`What \`${c.name}\` returns${c.successResponse ? '' : ' (nothing is sent on success: success-response is false)'}.`]);
    out += `export type ${retName} = ${c.returns === undefined ? 'Record<string, never>' : tsType(g, c.returns, 'out')};\n\n`;
  }
  return out.replace(/\n+$/, '\n');
}

function usesAny(b: Built): boolean {
  const isAny = (t: TypeExpr) => (typeof t === 'string' ? t : t.array) === 'any';
  const members = (ms: readonly Member[] | null | undefined) => (ms ?? []).some((m) => isAny(m.type));
  for (const def of b.types.values()) {
    if (def.meta === 'struct' && members(def.members)) return true;
    if (def.meta === 'union' && typeof def.base !== 'string' && members(def.base)) return true;
    if (def.meta === 'alternate' && def.branches.some((br) => isAny(br.type))) return true;
  }
  return b.commands.some((c) => members(commandMembers(b, c)) || (c.returns !== undefined && isAny(c.returns)));
}

function modesOf(g: Gen, name: string): Mode[] {
  return g.argTypes.has(name) && g.differs.has(name) ? ['out', 'in'] : ['out'];
}

// ---- qapi-visit.ts ----------------------------------------------------------------------

function visitFnName(name: string): string {
  return `visit${tsIdent(name)}`;
}

function visitMembersFnName(name: string): string {
  return `visit${tsIdent(name)}Members`;
}

function argsVisitFnName(command: string): string {
  return `visit${argsTypeName(command)}`;
}

/** An expression visiting one value of type `t` named by the JS expression `nameExpr`. */
function visitExpr(g: Gen, t: TypeExpr, nameExpr: string): string {
  if (typeof t !== 'string') {
    return `v.list(${nameExpr}, () => ${visitExpr(g, t.array, 'null')})`;
  }
  switch (t) {
    case 'int':
    case 'int64':
      return `v.typeInt(${nameExpr})`;
    case 'int8':
    case 'int16':
    case 'int32':
      return `v.typeIntN(${nameExpr}, ${t.slice(3)})`;
    case 'uint64':
      return `v.typeUint64(${nameExpr})`;
    case 'uint8':
    case 'uint16':
    case 'uint32':
      return `v.typeUintN(${nameExpr}, ${t.slice(4)})`;
    case 'size':
      return `v.typeSize(${nameExpr})`;
    case 'number':
      return `v.typeNumber(${nameExpr})`;
    case 'str':
      return `v.typeStr(${nameExpr})`;
    case 'bool':
      return `v.typeBool(${nameExpr})`;
    case 'null':
      return `v.typeNull(${nameExpr})`;
    case 'any':
      return `v.typeAny(${nameExpr})`;
    default:
      return `${visitFnName(t)}(v, ${nameExpr})`;
  }
}

interface MembersVisit {
  /** Statements visiting the members into locals m0, m1, ... */
  readonly statements: string[];
  /** Object-literal entries built from the locals (absent optional members left out). */
  readonly entries: string[];
}

/** Visits `members` in schema order (QEMU's visit_type_X_members). */
function membersVisit(g: Gen, members: readonly Member[]): MembersVisit {
  const statements: string[] = [];
  const entries: string[] = [];
  members.forEach((m, i) => {
    const local = `m${i}`;
    const visit = visitExpr(g, m.type, quote(m.name));
    if (m.optional) {
      statements.push(`const ${local} = v.optional(${quote(m.name)}) ? ${visit} : undefined;`);
      entries.push(`...(${local} === undefined ? {} : { ${propKey(m.name)}: ${local} }),`);
    } else {
      statements.push(`const ${local} = ${visit};`);
      entries.push(`${propKey(m.name)}: ${local},`);
    }
  });
  return { statements, entries };
}

function objectLiteral(entries: readonly string[], indent: string, extra = ''): string {
  if (entries.length === 0) return extra === '' ? '{}' : `{ ${extra} }`;
  return `{
${entries.map((e) => `${indent}  ${e}`).join('\n')}${extra === '' ? '' : `\n${indent}  ${extra}`}\n${indent}}`;
}

/** A members function: visits the members of a struct (or a command's arguments). */
function membersFunction(g: Gen, fnName: string, members: readonly Member[], resultType: string): string {
  const { statements, entries } = membersVisit(g, members);
  let out = `export function ${fnName}(v: InputVisitor): ${resultType} {\n`;
  for (const st of statements) out += `  ${st}\n`;
  if (entries.length === 0) out += `  const r: ${resultType} = {};\n  return r;\n}\n`;
  else out += `  return ${objectLiteral(entries, '  ')};\n}\n`;
  return out;
}

function genVisit(g: Gen, sourceName: string): string {
  const { b } = g;
  let out = `${HEADER}\n`;
  out += `// source: ${sourceName}; target: ${b.target.name}\n`;
  out += '//\n';
  out += '// Argument marshalling: every type that command arguments use gets a visit function,\n';
  out += '// and every command an argument visitor.  They drive src/protocol/input-visitor.ts,\n';
  out += "// which produces qemu-ga's exact error texts; members are visited in schema order.\n\n";
  out += "import type { JsonObject } from '../json/value.ts';\n";
  out += "import { InputVisitor } from '../protocol/input-visitor.ts';\n";
  out += "import * as T from './qapi-types.ts';\n";

  for (const def of b.types.values()) {
    if (!g.argTypes.has(def.name)) continue;
    const fn = visitFnName(def.name);
    const tsOut = namedTs(g, def.name, 'in', 'T.');
    out += '\n';
    switch (def.meta) {
      case 'enum':
        out += `export function ${fn}(v: InputVisitor, name: string | null): ${tsOut} {\n`;
        out += `  return v.typeEnum(name, T.${enumValuesName(def.name)});\n}\n`;
        break;
      case 'struct':
        out += membersFunction(g, visitMembersFnName(def.name), structMembers(b, def), tsOut);
        out += '\n';
        out += `export function ${fn}(v: InputVisitor, name: string | null): ${tsOut} {\n`;
        out += '  v.startStruct(name);\n';
        out += `  const r = ${visitMembersFnName(def.name)}(v);\n`;
        out += '  v.checkStruct();\n  v.endStruct();\n  return r;\n}\n';
        break;
      case 'union': {
        const base = baseMembers(b, def);
        const discIndex = base.findIndex((m) => m.name === def.discriminator);
        const { statements, entries } = membersVisit(g, base);
        out += `export function ${visitMembersFnName(def.name)}(v: InputVisitor): ${tsOut} {\n`;
        for (const st of statements) out += `  ${st}\n`;
        out += `  switch (m${discIndex}) {\n`;
        for (const br of def.branches) {
          out += `    case ${quote(br.name)}:\n`;
          out += `      return ${objectLiteral(entries, '      ', `...${visitMembersFnName(br.type)}(v),`)};\n`;
        }
        out += `    default:\n      return ${objectLiteral(entries, '      ')};\n  }\n}\n\n`;
        out += `export function ${fn}(v: InputVisitor, name: string | null): ${tsOut} {\n`;
        out += '  v.startStruct(name);\n';
        out += `  const r = ${visitMembersFnName(def.name)}(v);\n`;
        out += '  v.checkStruct();\n  v.endStruct();\n  return r;\n}\n';
        break;
      }
      case 'alternate':
        out += `export function ${fn}(v: InputVisitor, name: string | null): ${tsOut} {\n`;
        out += '  switch (v.startAlternate(name)) {\n';
        for (const br of def.branches) {
          for (const q of alternateQtypes(b, br.type)) out += `    case '${q}':\n`;
          out += `      return ${visitExpr(g, br.type, 'name')};\n`;
        }
        out += `    default:\n      throw v.invalidType(name, ${quote(def.name)});\n  }\n}\n`;
        break;
    }
  }

  for (const c of b.commands) {
    const members = commandMembers(b, c) ?? [];
    const argsType = `T.${argsTypeName(c.name)}`;
    let membersFn: string | null = null;
    out += '\n';
    if (typeof c.data === 'string') {
      membersFn = visitMembersFnName(c.data);
    } else if (members.length > 0) {
      membersFn = visitMembersFnName(argsTypeName(c.name));
      out += membersFunction(g, membersFn, members, argsType);
      out += '\n';
    }
    out += `/** Visits the arguments of \`${c.name}\` (absent arguments count as \`{}\`). */\n`;
    out += `export function ${argsVisitFnName(c.name)}(args: JsonObject | undefined): ${argsType} {\n`;
    out += '  const v = new InputVisitor(args ?? new Map());\n';
    out += '  v.startStruct(null);\n';
    out += membersFn === null ? `  const r: ${argsType} = {};\n` : `  const r = ${membersFn}(v);\n`;
    out += '  v.checkStruct();\n  v.endStruct();\n  return r;\n}\n';
  }
  return out;
}

/** The QTypes an alternate branch takes (QEMU's alternate dispatch). */
function alternateQtypes(b: Built, t: TypeExpr): string[] {
  if (typeof t !== 'string') return ['qlist'];
  const builtin = BUILTIN_TYPES.get(t);
  switch (builtin) {
    case 'int':
    case 'number':
      return ['qnum'];
    case 'string':
      return ['qstring'];
    case 'boolean':
      return ['qbool'];
    case 'null':
      return ['qnull'];
    case 'value':
      return ['qnull', 'qnum', 'qstring', 'qdict', 'qlist', 'qbool'];
    case undefined: {
      const def = typeDef(b, t);
      if (def.meta === 'enum') return ['qstring'];
      if (def.meta === 'struct' || def.meta === 'union') return ['qdict'];
      throw new QapiError(def.info, `${describe(def)} cannot be an alternate branch`);
    }
  }
}

// ---- qapi-commands.ts -------------------------------------------------------------------

function genCommands(g: Gen, sourceName: string): string {
  const { b } = g;
  let out = `${HEADER}\n`;
  out += `// source: ${sourceName}; target: ${b.target.name}\n`;
  out += '//\n';
  out += `// The ${b.commands.length} commands built for ${b.target.name}, in registration (schema) order.\n`;
  if (b.skippedCommands.length > 0) out += `// Not built for ${b.target.name}: ${b.skippedCommands.join(', ')}.\n`;
  out += '\n';
  out += "import type { JsonObject, OutValue } from '../json/value.ts';\n";
  out += "import type * as T from './qapi-types.ts';\n";
  out += "import * as V from './qapi-visit.ts';\n\n";

  out += '/** A command as the dispatcher sees it. */\n';
  out += 'export interface CommandDescriptor<Args = unknown> {\n';
  out += '  readonly name: string;\n';
  out += '  /** false: nothing is sent when the command succeeds. */\n';
  out += '  readonly successResponse: boolean;\n';
  out += `  /** The schema gives it the \`${READ_ONLY_FEATURE}\` feature: it changes nothing in the guest. */\n`;
  out += '  readonly readOnly: boolean;\n';
  out += "  /** Validates and converts the request's arguments; throws QgaError with qemu-ga's texts. */\n";
  out += '  visitArgs(args: JsonObject | undefined): Args;\n';
  out += '}\n\n';

  out += 'export type CommandName =\n';
  out += b.commands.map((c) => `  | ${quote(c.name)}`).join('\n') + ';\n\n';

  out += '/** Every command, in registration order. */\n';
  out += 'export const commandTable: ReadonlyMap<string, CommandDescriptor> = new Map<string, CommandDescriptor>([\n';
  for (const c of b.commands) {
    out += `  [${quote(c.name)}, { name: ${quote(c.name)}, successResponse: ${c.successResponse}, readOnly: ${isReadOnly(c)}, visitArgs: V.${argsVisitFnName(c.name)} }],\n`;
  }
  out += ']);\n\n';

  out += '/** Argument type of each command. */\n';
  out += 'export interface CommandArgs {\n';
  for (const c of b.commands) out += `  ${quote(c.name)}: T.${argsTypeName(c.name)};\n`;
  out += '}\n\n';
  out += '/** Return type of each command. */\n';
  out += 'export interface CommandReturns {\n';
  for (const c of b.commands) out += `  ${quote(c.name)}: T.${returnTypeName(c.name)};\n`;
  out += '}\n\n';

  out += '/**\n';
  out += ' * One handler per command, every one required: a missing handler does not compile.\n';
  out += ' * (A type alias rather than an interface, so that it is assignable to a string-indexed table.)\n';
  out += ' */\n';
  out += 'export type Handlers<Ctx> = {\n';
  for (const c of b.commands) {
    const ret = `T.${returnTypeName(c.name)}`;
    out += `  ${quote(c.name)}: (args: T.${argsTypeName(c.name)}, ctx: Ctx) => ${ret} | Promise<${ret}>;\n`;
  }
  out += '};\n\n';

  out += '// Compile-time check: every return type is something the serializer accepts.\n';
  out += 'type Serializable<R extends OutValue> = R;\n';
  out += 'export type SerializableReturns = [\n';
  for (const c of b.commands) out += `  Serializable<T.${returnTypeName(c.name)}>,\n`;
  out += '];\n';
  return out;
}

// ---- qapi-client.ts ---------------------------------------------------------------------

/** Named types reachable from `roots`, in schema order. */
function reachableTypes(b: Built, roots: readonly TypeExpr[]): string[] {
  const seen = new Set<string>();
  const visitExpr = (t: TypeExpr) => {
    const name = typeof t === 'string' ? t : t.array;
    if (!isBuiltin(name)) visitType(name);
  };
  const visitType = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const def = typeDef(b, name);
    switch (def.meta) {
      case 'enum':
        return;
      case 'struct':
        structMembers(b, def).forEach((m) => visitExpr(m.type));
        return;
      case 'union':
        baseMembers(b, def).forEach((m) => visitExpr(m.type));
        def.branches.forEach((br) => visitType(br.type));
        return;
      case 'alternate':
        def.branches.forEach((br) => visitExpr(br.type));
        return;
    }
  };
  roots.forEach(visitExpr);
  return [...b.types.keys()].filter((n) => seen.has(n));
}

/** guest-file-read → guestFileRead */
export function clientMethodName(command: string): string {
  const parts = command.split(/[-_.]/).filter((p) => p !== '');
  return tsIdent(parts.map((p, i) => (i === 0 ? p : p[0]!.toUpperCase() + p.slice(1))).join(''));
}

/** A type reference in the shape tables: 'int', 'GuestFoo', or ['GuestFoo'] for a list. */
function shapeRef(t: TypeExpr): string {
  return typeof t === 'string' ? quote(t) : `[${quote(t.array)}]`;
}

function memberShapes(members: readonly Member[]): string {
  return `[${members.map((m) => `[${quote(m.name)}, ${shapeRef(m.type)}, ${m.optional}]`).join(', ')}]`;
}

function genClient(g: Gen, sourceName: string): string {
  const { b } = g;
  const argRoots: TypeExpr[] = [];
  const retRoots: TypeExpr[] = [];
  for (const c of b.commands) {
    for (const m of commandMembers(b, c) ?? []) argRoots.push(m.type);
    if (c.returns !== undefined) retRoots.push(c.returns);
  }
  const replyTypes = reachableTypes(b, retRoots);
  const shapeTypes = reachableTypes(b, [...argRoots, ...retRoots]);

  let out = `${HEADER}\n`;
  out += `// source: ${sourceName}; target: ${b.target.name}\n`;
  out += '//\n';
  out += "// The host side of the protocol, for src/client/.\n";
  out += '//\n';
  out += '// - Reply types: what a command returns, as the client hands it to its caller.  Integer\n';
  out += '//   members of 64-bit types (int, int64, uint64, size) are exact `bigint`s; integer types\n';
  out += '//   of 32 bits or fewer are `number`; `number` members are `number` even when the agent\n';
  out += '//   printed an integral double without a fraction.  Enums are those of qapi-types.ts.\n';
  out += '// - Argument types (`<Command>Args`): integers may be given as `number` or `bigint`.\n';
  out += '// - Shape tables for the schema-driven converter (src/client/convert.ts).\n';
  out += '// - QgaCommands: an abstract class with one typed method per command.\n\n';
  out += "import type * as T from './qapi-types.ts';\n";
  out += "import type { CommandName } from './qapi-commands.ts';\n\n";

  const emitted = new Set<string>();
  const claim = (name: string, def: Definition) => {
    if (emitted.has(name)) throw new QapiError(def.info, `${describe(def)}: generated name '${name}' collides with another generated name in qapi-client.ts`);
    emitted.add(name);
  };

  out += '// ---- reply types ----\n\n';
  for (const name of replyTypes) {
    const def = typeDef(b, name);
    const id = tsIdent(name);
    claim(id, def);
    switch (def.meta) {
      case 'enum':
        out += `export type ${id} = T.${id};\n\n`;
        break;
      case 'struct': {
        const reply = objectBody(g, structMembers(b, def), 'reply', (m) => docOwner(b, def, m));
        // Where the reply form is qapi-types.ts's own (no 64-bit integers inside), refer to it.
        if (reply === objectBody(g, structMembers(b, def), 'out', (m) => docOwner(b, def, m))) {
          out += `export type ${id} = T.${id};\n\n`;
          break;
        }
        out += defDoc(def);
        out += `export type ${id} = {\n${reply}};\n\n`;
        break;
      }
      case 'union': {
        const base = baseMembers(b, def);
        const others = base.filter((m) => m.name !== def.discriminator);
        const disc = base.find((m) => m.name === def.discriminator)!;
        const enumDef = typeDef(b, disc.type as string) as EnumDef;
        const variant = (tag: string, extra: string) =>
          `  | ({ ${[`${propKey(disc.name)}: ${tag}`, ...others.map((m) => `${propKey(m.name)}${m.optional ? '?' : ''}: ${tsType(g, m.type, 'reply')}`)].join('; ')} }${extra})\n`;
        const withBranch = new Set(def.branches.map((br) => br.name));
        let body = '';
        for (const br of def.branches) body += variant(quote(br.name), ` & ${tsIdent(br.type)}`);
        const rest = enumDef.values.filter((v) => !withBranch.has(v.name));
        if (rest.length > 0) body += variant(rest.map((v) => quote(v.name)).join(' | '), '');
        out += defDoc(def);
        out += `export type ${id} =\n${body === '' ? '  never\n' : body}`.replace(/\n$/, ';\n') + '\n';
        break;
      }
      case 'alternate':
        out += defDoc(def);
        out += `export type ${id} = ${def.branches.map((br) => tsType(g, br.type, 'reply')).join(' | ')};\n\n`;
        break;
    }
  }

  out += '// ---- argument types ----\n\n';
  const argsType = new Map<string, string | null>();
  for (const c of b.commands) {
    const members = commandMembers(b, c);
    if (members === null || members.length === 0) {
      argsType.set(c.name, null);
      continue;
    }
    const name = argsTypeName(c.name);
    claim(name, c);
    argsType.set(c.name, name);
    out += jsdoc([`Arguments of \`${c.name}\`; integers may be numbers or bigints.`]);
    if (typeof c.data === 'string') out += `export type ${name} = ${namedTs(g, c.data, 'out', 'T.')};\n\n`;
    else out += `export type ${name} = {\n${objectBody(g, members, 'out', () => c, '  ', 'T.')}};\n\n`;
  }

  const replyOf = (c: CommandDef) => (c.returns === undefined ? 'void' : tsType(g, c.returns, 'reply'));

  out += '// ---- command tables ----\n\n';
  out += 'export type ClientCommandName = CommandName;\n\n';
  out += '/** Arguments of each command (an empty record: the command takes none). */\n';
  out += 'export interface ClientCommandArgs {\n';
  for (const c of b.commands) out += `  ${quote(c.name)}: ${argsType.get(c.name) ?? 'Record<string, never>'};\n`;
  out += '}\n\n';
  out += '/** What each command resolves with on the client (void: no return value). */\n';
  out += 'export interface ClientCommandReplies {\n';
  for (const c of b.commands) out += `  ${quote(c.name)}: ${replyOf(c)};\n`;
  out += '}\n\n';

  out += '// ---- shapes, for the schema-driven converter ----\n\n';
  out += "/** A builtin type name ('int', 'uint64', 'str', …), a type name, or [name] for a list. */\n";
  out += 'export type ShapeRef = string | readonly [string];\n';
  out += '/** One member: name, type, optional. */\n';
  out += 'export type MemberShape = readonly [name: string, type: ShapeRef, optional: boolean];\n';
  out += 'export type TypeShape =\n';
  out += "  | { readonly kind: 'enum'; readonly values: readonly string[] }\n";
  out += "  | { readonly kind: 'struct'; readonly members: readonly MemberShape[] }\n";
  out += '  | {\n';
  out += "      readonly kind: 'union';\n";
  out += '      /** The base members, discriminator included. */\n';
  out += '      readonly members: readonly MemberShape[];\n';
  out += '      readonly discriminator: string;\n';
  out += '      /** Discriminator value → struct type holding the variant members. */\n';
  out += '      readonly branches: { readonly [tag: string]: string };\n';
  out += '    }\n';
  out += "  | { readonly kind: 'alternate'; readonly branches: readonly ShapeRef[] };\n\n";
  out += 'export interface CommandShape {\n';
  out += '  /** The argument members; null when the command takes no arguments. */\n';
  out += '  readonly args: readonly MemberShape[] | null;\n';
  out += '  /** The return type; null when the command returns nothing (`{}` on the wire). */\n';
  out += '  readonly returns: ShapeRef | null;\n';
  out += '  /** false: the agent sends nothing when the command succeeds. */\n';
  out += '  readonly successResponse: boolean;\n';
  out += '}\n\n';
  out += '/** Every named type that arguments or replies use. */\n';
  out += 'export const typeShapes: { readonly [name: string]: TypeShape } = {\n';
  for (const name of shapeTypes) {
    const def = typeDef(b, name);
    let shape: string;
    switch (def.meta) {
      case 'enum':
        shape = `{ kind: 'enum', values: [${def.values.map((v) => quote(v.name)).join(', ')}] }`;
        break;
      case 'struct':
        shape = `{ kind: 'struct', members: ${memberShapes(structMembers(b, def))} }`;
        break;
      case 'union':
        shape =
          `{ kind: 'union', members: ${memberShapes(baseMembers(b, def))}, discriminator: ${quote(def.discriminator)}, ` +
          `branches: { ${def.branches.map((br) => `${propKey(br.name)}: ${quote(br.type)}`).join(', ')} } }`;
        break;
      case 'alternate':
        shape = `{ kind: 'alternate', branches: [${def.branches.map((br) => shapeRef(br.type)).join(', ')}] }`;
        break;
    }
    out += `  ${propKey(name)}: ${shape},\n`;
  }
  out += '};\n\n';
  out += '/** Every command built for the target, in registration order. */\n';
  out += 'export const commandShapes: { readonly [name in ClientCommandName]: CommandShape } = {\n';
  for (const c of b.commands) {
    const members = commandMembers(b, c);
    const args = members === null || members.length === 0 ? 'null' : memberShapes(members);
    const ret = c.returns === undefined ? 'null' : shapeRef(c.returns);
    out += `  ${quote(c.name)}: { args: ${args}, returns: ${ret}, successResponse: ${c.successResponse} },\n`;
  }
  out += '};\n\n';

  out += '// ---- the typed methods ----\n\n';
  out += '/**\n';
  out += ' * One method per command.  A subclass provides `invoke`, which sends the command and\n';
  out += ' * resolves with the reply converted to the types above (void for commands without a\n';
  out += " * return value, and for success-response: false commands, which get no reply).\n";
  out += ' * `O` is the subclass\'s per-call options type.\n';
  out += ' */\n';
  out += 'export abstract class QgaCommands<O = undefined> {\n';
  out += '  protected abstract invoke(command: ClientCommandName, args: object | undefined, options: O | undefined): Promise<unknown>;\n';
  const methods = new Set<string>(['invoke']);
  for (const c of b.commands) {
    const method = clientMethodName(c.name);
    if (methods.has(method)) throw new QapiError(c.info, `${describe(c)}: client method name '${method}' collides with another`);
    methods.add(method);
    const members = commandMembers(b, c);
    const argsName = argsType.get(c.name);
    const allOptional = members === null || members.every((m) => m.optional);
    const ret = replyOf(c);
    out += '\n';
    out += defDoc(c, c.successResponse ? [] : ['', 'The agent sends no reply when this command succeeds.']).replace(/^(?=.)/gm, '  ');
    if (argsName === null || argsName === undefined) {
      out += `  ${method}(options?: O): Promise<${ret}> {\n`;
      out += `    return this.invoke(${quote(c.name)}, undefined, options) as Promise<${ret}>;\n  }\n`;
    } else {
      out += `  ${method}(args${allOptional ? '?' : ''}: ${argsName}, options?: O): Promise<${ret}> {\n`;
      out += `    return this.invoke(${quote(c.name)}, args, options) as Promise<${ret}>;\n  }\n`;
    }
  }
  out += '}\n';
  return out;
}

// ---- entry ------------------------------------------------------------------------------

export interface GeneratedFile {
  readonly name: string;
  readonly text: string;
}

export interface GenerateResult {
  readonly files: readonly GeneratedFile[];
  /** Command names built for the target, in registration order. */
  readonly commands: readonly { readonly name: string; readonly successResponse: boolean }[];
  readonly skippedCommands: readonly string[];
}

export function generate(schema: Schema, target: Target = LINUX_TARGET, sourceName = 'schema/qga.json'): GenerateResult {
  const b = applyTarget(schema, target);
  const g: Gen = { b, differs: computeDiffers(b), argTypes: collectArgTypes(b) };
  return {
    files: [
      { name: 'qapi-types.ts', text: genTypes(g, sourceName) },
      { name: 'qapi-visit.ts', text: genVisit(g, sourceName) },
      { name: 'qapi-commands.ts', text: genCommands(g, sourceName) },
      { name: 'qapi-client.ts', text: genClient(g, sourceName) },
    ],
    commands: b.commands.map((c) => ({ name: c.name, successResponse: c.successResponse })),
    skippedCommands: b.skippedCommands,
  };
}
