// QAPI schema semantics: turns parsed expressions into checked definitions.
//
// Checks follow QEMU's scripts/qapi rules where they matter to us: known keys per
// definition kind, well-formed names, types and 'if' conditions, unique names, resolvable
// type references, struct bases, flat-union discriminators, distinguishable alternate
// branches, command return types, and documentation coverage (pragma doc-required).

import {
  QapiError,
  parseSchemaFile,
  parseSchemaText,
  type ParseOptions,
  type ParsedExpr,
  type ParsedSchema,
  type Pragmas,
  type QapiDoc,
  type QapiObject,
  type QapiValue,
  type SourceInfo,
} from './parser.ts';

// ---- model ------------------------------------------------------------------------------

/** A build condition: a symbol, or all/any/not of conditions. */
export type IfCond = string | { readonly all: readonly IfCond[] } | { readonly any: readonly IfCond[] } | { readonly not: IfCond };

/** A type reference: a type name, or an array of a named type. */
export type TypeExpr = string | { readonly array: string };

export interface Feature {
  readonly name: string;
  readonly if?: IfCond;
}

export interface Member {
  readonly name: string;
  readonly type: TypeExpr;
  readonly optional: boolean;
  readonly if?: IfCond;
  readonly features: readonly Feature[];
  readonly info: SourceInfo;
}

export interface EnumValue {
  readonly name: string;
  readonly if?: IfCond;
  readonly features: readonly Feature[];
}

interface DefBase {
  readonly name: string;
  readonly if?: IfCond;
  readonly features: readonly Feature[];
  readonly info: SourceInfo;
  readonly doc: QapiDoc | null;
}

export interface EnumDef extends DefBase {
  readonly meta: 'enum';
  readonly values: readonly EnumValue[];
  readonly prefix?: string;
}

export interface StructDef extends DefBase {
  readonly meta: 'struct';
  readonly base?: string;
  readonly members: readonly Member[];
}

export interface UnionBranch {
  readonly name: string;
  readonly type: string;
  readonly if?: IfCond;
}

export interface UnionDef extends DefBase {
  readonly meta: 'union';
  /** A named struct, or inline members. */
  readonly base: string | readonly Member[];
  readonly discriminator: string;
  readonly branches: readonly UnionBranch[];
}

export interface AlternateBranch {
  readonly name: string;
  readonly type: TypeExpr;
  readonly if?: IfCond;
}

export interface AlternateDef extends DefBase {
  readonly meta: 'alternate';
  readonly branches: readonly AlternateBranch[];
}

export interface CommandDef extends DefBase {
  readonly meta: 'command';
  /** A named struct, inline members, or nothing. */
  readonly data?: string | readonly Member[];
  readonly returns?: TypeExpr;
  readonly boxed: boolean;
  readonly gen: boolean;
  readonly successResponse: boolean;
  readonly allowOob: boolean;
  readonly allowPreconfig: boolean;
  readonly coroutine: boolean;
}

export interface EventDef extends DefBase {
  readonly meta: 'event';
  readonly data?: string | readonly Member[];
  readonly boxed: boolean;
}

export type TypeDef = EnumDef | StructDef | UnionDef | AlternateDef;
export type Definition = TypeDef | CommandDef | EventDef;

export interface Schema {
  /** Definitions in schema order. */
  readonly definitions: readonly Definition[];
  readonly types: ReadonlyMap<string, TypeDef>;
  readonly commands: ReadonlyMap<string, CommandDef>;
  readonly events: ReadonlyMap<string, EventDef>;
  readonly pragmas: Pragmas;
  readonly docs: readonly QapiDoc[];
  readonly files: readonly string[];
}

/** Built-in scalar types and the JSON type each one accepts. */
export const BUILTIN_TYPES: ReadonlyMap<string, 'int' | 'number' | 'string' | 'boolean' | 'null' | 'value'> = new Map([
  ['str', 'string'],
  ['number', 'number'],
  ['int', 'int'],
  ['int8', 'int'],
  ['int16', 'int'],
  ['int32', 'int'],
  ['int64', 'int'],
  ['uint8', 'int'],
  ['uint16', 'int'],
  ['uint32', 'int'],
  ['uint64', 'int'],
  ['size', 'int'],
  ['bool', 'boolean'],
  ['null', 'null'],
  ['any', 'value'],
] as const);

export function isBuiltin(name: string): boolean {
  return BUILTIN_TYPES.has(name);
}

// ---- entry points -----------------------------------------------------------------------

export function loadSchema(path: string, options: ParseOptions = {}): Schema {
  return checkSchema(parseSchemaFile(path, options));
}

export function loadSchemaText(text: string, file: string, options: ParseOptions = {}): Schema {
  return checkSchema(parseSchemaText(text, file, options));
}

// ---- expression checks ------------------------------------------------------------------

const META_KEYS = ['enum', 'struct', 'union', 'alternate', 'command', 'event'] as const;
type Meta = (typeof META_KEYS)[number];

const ALLOWED_KEYS: Record<Meta, { required: readonly string[]; optional: readonly string[] }> = {
  enum: { required: ['data'], optional: ['prefix', 'if', 'features'] },
  struct: { required: ['data'], optional: ['base', 'if', 'features'] },
  union: { required: ['base', 'discriminator', 'data'], optional: ['if', 'features'] },
  alternate: { required: ['data'], optional: ['if', 'features'] },
  command: {
    required: [],
    optional: [
      'data',
      'returns',
      'boxed',
      'if',
      'features',
      'gen',
      'success-response',
      'allow-oob',
      'allow-preconfig',
      'coroutine',
    ],
  },
  event: { required: [], optional: ['data', 'boxed', 'if', 'features'] },
};

const NAME_RE = /^(__[a-z0-9.-]+_)?[a-zA-Z][a-zA-Z0-9_-]*$/;
const TYPE_NAME_RE = /^(__[a-z0-9.-]+_)?[A-Z][a-zA-Z0-9]*$/;
const LOWER_NAME_RE = /^(__[a-z0-9.-]+_)?[a-z][a-z0-9_-]*$/;
const COND_NAME_RE = /^[A-Z][A-Z0-9_]*$/;

function err(info: SourceInfo, what: string, msg: string): QapiError {
  return new QapiError(info, what ? `${what}: ${msg}` : msg);
}

interface Ctx {
  readonly info: SourceInfo;
  /** e.g. "struct 'Foo'" */
  readonly what: string;
  readonly pragmas: Pragmas;
}

function checkIf(value: QapiValue, ctx: Ctx, where: string): IfCond {
  const fail = (m: string) => err(ctx.info, ctx.what, `'if' condition of ${where} ${m}`);
  const walk = (v: QapiValue): IfCond => {
    if (typeof v === 'string') {
      if (!COND_NAME_RE.test(v)) throw fail(`has invalid symbol '${v}'`);
      return v;
    }
    if (!(v instanceof Map)) throw fail('must be a string or an object');
    if (v.size !== 1) throw fail("must have exactly one of 'all', 'any', 'not'");
    const [[op, arg]] = [...v] as [[string, QapiValue]];
    if (op === 'not') return { not: walk(arg) };
    if (op === 'all' || op === 'any') {
      if (!Array.isArray(arg)) throw fail(`'${op}' needs a list`);
      if (arg.length === 0) throw fail(`'${op}' of an empty list is useless`);
      const list = arg.map(walk);
      return op === 'all' ? { all: list } : { any: list };
    }
    throw fail(`has unknown operator '${op}'`);
  };
  return walk(value);
}

function checkFeatures(value: QapiValue | undefined, ctx: Ctx): Feature[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw err(ctx.info, ctx.what, "'features' must be an array");
  const seen = new Set<string>();
  return value.map((f) => {
    let name: QapiValue | undefined;
    let cond: IfCond | undefined;
    if (typeof f === 'string') name = f;
    else if (f instanceof Map) {
      for (const k of f.keys()) {
        if (k !== 'name' && k !== 'if') throw err(ctx.info, ctx.what, `feature has unknown key '${k}'`);
      }
      name = f.get('name');
      const c = f.get('if');
      if (c !== undefined) cond = checkIf(c, ctx, `feature '${String(name)}'`);
    }
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      throw err(ctx.info, ctx.what, `invalid feature name '${String(name)}'`);
    }
    if (seen.has(name)) throw err(ctx.info, ctx.what, `duplicate feature '${name}'`);
    seen.add(name);
    return cond === undefined ? { name } : { name, if: cond };
  });
}

function checkTypeExpr(value: QapiValue, ctx: Ctx, where: string, allowArray: boolean): TypeExpr {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    if (!allowArray) throw err(ctx.info, ctx.what, `${where} cannot be an array`);
    if (value.length !== 1 || typeof value[0] !== 'string') {
      throw err(ctx.info, ctx.what, `${where}: array type must contain single type name`);
    }
    return { array: value[0] };
  }
  throw err(ctx.info, ctx.what, `${where} should be a type name`);
}

function checkMembers(value: QapiValue, ctx: Ctx, owner: string, where: string): Member[] {
  if (!(value instanceof Map)) throw err(ctx.info, ctx.what, `'${where}' must be an object`);
  const allowUnderscore = ctx.pragmas.memberNameExceptions.includes(owner);
  const members: Member[] = [];
  const seen = new Set<string>();
  for (const [rawName, spec] of value) {
    const optional = rawName.startsWith('*');
    const name = optional ? rawName.slice(1) : rawName;
    checkMemberName(name, ctx, `'${where}' member '${name}'`, allowUnderscore);
    if (seen.has(name)) throw err(ctx.info, ctx.what, `duplicate member '${name}'`);
    seen.add(name);
    let type: TypeExpr;
    let cond: IfCond | undefined;
    let features: Feature[] = [];
    if (spec instanceof Map) {
      for (const k of spec.keys()) {
        if (k !== 'type' && k !== 'if' && k !== 'features') {
          throw err(ctx.info, ctx.what, `'${where}' member '${name}' has unknown key '${k}'`);
        }
      }
      const t = spec.get('type');
      if (t === undefined) throw err(ctx.info, ctx.what, `'${where}' member '${name}' misses key 'type'`);
      type = checkTypeExpr(t, ctx, `'${where}' member '${name}'`, true);
      const c = spec.get('if');
      if (c !== undefined) cond = checkIf(c, ctx, `member '${name}'`);
      features = checkFeatures(spec.get('features'), ctx);
    } else {
      type = checkTypeExpr(spec, ctx, `'${where}' member '${name}'`, true);
    }
    const m: Member = { name, type, optional, features, info: ctx.info, ...(cond === undefined ? {} : { if: cond }) };
    members.push(m);
  }
  return members;
}

function checkMemberName(name: string, ctx: Ctx, where: string, allowUnderscore: boolean): void {
  if (!NAME_RE.test(name)) throw err(ctx.info, ctx.what, `${where} has an invalid name`);
  if (!LOWER_NAME_RE.test(name)) throw err(ctx.info, ctx.what, `${where} should use lowercase`);
  if (name.includes('_') && !allowUnderscore && !name.startsWith('__')) {
    throw err(ctx.info, ctx.what, `${where} uses '_' (allowed only by pragma member-name-exceptions)`);
  }
}

function checkFlag(expr: QapiObject, key: string, ctx: Ctx, allowed: boolean, dflt: boolean): boolean {
  const v = expr.get(key);
  if (v === undefined) return dflt;
  if (v !== allowed) {
    throw err(ctx.info, ctx.what, `flag '${key}' may only use ${allowed} value`);
  }
  return v;
}

function checkExpr(parsed: ParsedExpr, pragmas: Pragmas): Definition {
  const { expr, info, doc } = parsed;
  const metas = META_KEYS.filter((m) => expr.has(m));
  if (metas.length !== 1) {
    throw new QapiError(
      info,
      metas.length === 0
        ? `expression is missing metatype (one of ${META_KEYS.join(', ')})`
        : `expression has conflicting metatypes ${metas.map((m) => `'${m}'`).join(', ')}`,
    );
  }
  const meta = metas[0]!;
  const rawName = expr.get(meta);
  if (typeof rawName !== 'string') throw new QapiError(info, `'${meta}' requires a string name`);
  const name = rawName;
  const ctx: Ctx = { info, what: `${meta} '${name}'`, pragmas };
  if (!NAME_RE.test(name)) throw err(info, ctx.what, 'invalid name');
  if (meta === 'command' || meta === 'event') {
    const re = meta === 'event' ? /^[A-Z][A-Z0-9_]*$/ : LOWER_NAME_RE;
    if (!re.test(name) && !pragmas.commandNameExceptions.includes(name)) {
      throw err(info, ctx.what, meta === 'event' ? 'name should be ALL_CAPS' : 'name should use lowercase');
    }
  } else if (!TYPE_NAME_RE.test(name)) {
    throw err(info, ctx.what, 'name should use CamelCase');
  } else if (name.endsWith('List') && !name.startsWith('__')) {
    throw err(info, ctx.what, "name must not end with 'List'");
  }
  const allowed = ALLOWED_KEYS[meta];
  for (const k of expr.keys()) {
    if (k !== meta && !allowed.required.includes(k) && !allowed.optional.includes(k)) {
      throw err(info, ctx.what, `unknown key '${k}'`);
    }
  }
  for (const k of allowed.required) {
    if (!expr.has(k)) throw err(info, ctx.what, `missing key '${k}'`);
  }
  const ifValue = expr.get('if');
  const cond = ifValue === undefined ? undefined : checkIf(ifValue, ctx, ctx.what);
  const common = {
    name,
    features: checkFeatures(expr.get('features'), ctx),
    info,
    doc,
    ...(cond === undefined ? {} : { if: cond }),
  };

  switch (meta) {
    case 'enum': {
      const data = expr.get('data');
      if (!Array.isArray(data)) throw err(info, ctx.what, "'data' must be an array");
      const seen = new Set<string>();
      const values: EnumValue[] = data.map((v) => {
        let vname: QapiValue | undefined;
        let vcond: IfCond | undefined;
        let features: Feature[] = [];
        if (typeof v === 'string') vname = v;
        else if (v instanceof Map) {
          for (const k of v.keys()) {
            if (k !== 'name' && k !== 'if' && k !== 'features') throw err(info, ctx.what, `enum value has unknown key '${k}'`);
          }
          vname = v.get('name');
          const c = v.get('if');
          if (c !== undefined) vcond = checkIf(c, ctx, `value '${String(vname)}'`);
          features = checkFeatures(v.get('features'), ctx);
        }
        if (typeof vname !== 'string') throw err(info, ctx.what, "'data' entries must be strings or objects with 'name'");
        if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(vname)) throw err(info, ctx.what, `value '${vname}' has an invalid name`);
        if (seen.has(vname)) throw err(info, ctx.what, `duplicate value '${vname}'`);
        seen.add(vname);
        return { name: vname, features, ...(vcond === undefined ? {} : { if: vcond }) };
      });
      const prefix = expr.get('prefix');
      if (prefix !== undefined && typeof prefix !== 'string') throw err(info, ctx.what, "'prefix' must be a string");
      return { meta, ...common, values, ...(prefix === undefined ? {} : { prefix }) };
    }
    case 'struct': {
      const members = checkMembers(expr.get('data')!, ctx, name, 'data');
      const base = expr.get('base');
      if (base !== undefined && typeof base !== 'string') throw err(info, ctx.what, "'base' must be a type name");
      return { meta, ...common, members, ...(base === undefined ? {} : { base }) };
    }
    case 'union': {
      const rawBase = expr.get('base')!;
      const base = typeof rawBase === 'string' ? rawBase : checkMembers(rawBase, ctx, name, 'base');
      const disc = expr.get('discriminator');
      if (typeof disc !== 'string') throw err(info, ctx.what, "'discriminator' must be a string");
      const data = expr.get('data');
      if (!(data instanceof Map)) throw err(info, ctx.what, "'data' must be an object");
      const branches: UnionBranch[] = [...data].map(([bname, spec]) => {
        let type: QapiValue | undefined = spec;
        let bcond: IfCond | undefined;
        if (spec instanceof Map) {
          for (const k of spec.keys()) {
            if (k !== 'type' && k !== 'if') throw err(info, ctx.what, `branch '${bname}' has unknown key '${k}'`);
          }
          type = spec.get('type');
          const c = spec.get('if');
          if (c !== undefined) bcond = checkIf(c, ctx, `branch '${bname}'`);
        }
        if (typeof type !== 'string') throw err(info, ctx.what, `branch '${bname}' must name a struct type`);
        return { name: bname, type, ...(bcond === undefined ? {} : { if: bcond }) };
      });
      return { meta, ...common, base, discriminator: disc, branches };
    }
    case 'alternate': {
      const data = expr.get('data');
      if (!(data instanceof Map)) throw err(info, ctx.what, "'data' must be an object");
      if (data.size === 0) throw err(info, ctx.what, "'data' must not be empty");
      const branches: AlternateBranch[] = [...data].map(([bname, spec]) => {
        checkMemberName(bname, ctx, `branch '${bname}'`, false);
        let type: TypeExpr;
        let bcond: IfCond | undefined;
        if (spec instanceof Map) {
          for (const k of spec.keys()) {
            if (k !== 'type' && k !== 'if') throw err(info, ctx.what, `branch '${bname}' has unknown key '${k}'`);
          }
          const t = spec.get('type');
          if (t === undefined) throw err(info, ctx.what, `branch '${bname}' misses key 'type'`);
          type = checkTypeExpr(t, ctx, `branch '${bname}'`, true);
          const c = spec.get('if');
          if (c !== undefined) bcond = checkIf(c, ctx, `branch '${bname}'`);
        } else {
          type = checkTypeExpr(spec, ctx, `branch '${bname}'`, true);
        }
        return { name: bname, type, ...(bcond === undefined ? {} : { if: bcond }) };
      });
      return { meta, ...common, branches };
    }
    case 'command': {
      const rawData = expr.get('data');
      const data =
        rawData === undefined ? undefined : typeof rawData === 'string' ? rawData : checkMembers(rawData, ctx, name, 'data');
      const rawRet = expr.get('returns');
      const returns = rawRet === undefined ? undefined : checkTypeExpr(rawRet, ctx, "'returns'", true);
      const boxed = checkFlag(expr, 'boxed', ctx, true, false);
      if (boxed && typeof data !== 'string') throw err(info, ctx.what, "'boxed': true requires 'data' naming a type");
      return {
        meta,
        ...common,
        ...(data === undefined ? {} : { data }),
        ...(returns === undefined ? {} : { returns }),
        boxed,
        gen: checkFlag(expr, 'gen', ctx, false, true),
        successResponse: checkFlag(expr, 'success-response', ctx, false, true),
        allowOob: checkFlag(expr, 'allow-oob', ctx, true, false),
        allowPreconfig: checkFlag(expr, 'allow-preconfig', ctx, true, false),
        coroutine: checkFlag(expr, 'coroutine', ctx, true, false),
      };
    }
    case 'event': {
      const rawData = expr.get('data');
      const data =
        rawData === undefined ? undefined : typeof rawData === 'string' ? rawData : checkMembers(rawData, ctx, name, 'data');
      const boxed = checkFlag(expr, 'boxed', ctx, true, false);
      return { meta, ...common, ...(data === undefined ? {} : { data }), boxed };
    }
  }
}

// ---- schema-wide checks -----------------------------------------------------------------

export function describe(def: Definition): string {
  return `${def.meta} '${def.name}'`;
}

export function checkSchema(parsed: ParsedSchema): Schema {
  const definitions = parsed.exprs.map((e) => checkExpr(e, parsed.pragmas));
  const types = new Map<string, TypeDef>();
  const commands = new Map<string, CommandDef>();
  const events = new Map<string, EventDef>();
  for (const def of definitions) {
    const table: Map<string, Definition> =
      def.meta === 'command' ? commands : def.meta === 'event' ? events : (types as Map<string, Definition>);
    if (isBuiltin(def.name)) throw err(def.info, describe(def), 'redefines a built-in type');
    const prior = table.get(def.name);
    if (prior) throw err(def.info, describe(def), `'${def.name}' is already defined at line ${prior.info.line}`);
    table.set(def.name, def);
  }
  const schema: Schema = {
    definitions,
    types,
    commands,
    events,
    pragmas: parsed.pragmas,
    docs: parsed.docs,
    files: parsed.files,
  };
  for (const def of definitions) checkDefinition(schema, def);
  for (const def of definitions) checkDoc(schema, def);
  return schema;
}

function lookupType(schema: Schema, def: Definition, t: TypeExpr, where: string): void {
  const name = typeof t === 'string' ? t : t.array;
  if (!isBuiltin(name) && !schema.types.has(name)) {
    throw err(def.info, describe(def), `${where} uses unknown type '${name}'`);
  }
}

/** The members of a struct, base members first. */
export function structMembers(schema: Schema, def: StructDef): Member[] {
  const seen = new Set<string>([def.name]);
  const out: Member[] = [];
  let cur: StructDef | undefined = def;
  const chain: StructDef[] = [];
  while (cur) {
    chain.unshift(cur);
    if (cur.base === undefined) break;
    const b = schema.types.get(cur.base);
    if (!b || b.meta !== 'struct') throw err(cur.info, describe(cur), `'base' must name a struct type, not '${cur.base}'`);
    if (seen.has(b.name)) throw err(def.info, describe(def), `base chain loops through '${b.name}'`);
    seen.add(b.name);
    cur = b;
  }
  for (const s of chain) out.push(...s.members);
  return out;
}

/** The members every variant of a union shares. */
export function unionBaseMembers(schema: Schema, def: UnionDef): Member[] {
  if (typeof def.base !== 'string') return [...def.base];
  const b = schema.types.get(def.base);
  if (!b || b.meta !== 'struct') throw err(def.info, describe(def), `'base' must name a struct type, not '${def.base}'`);
  return structMembers(schema, b);
}

/** Member names of a struct or union's common part, for collision checks. */
function objectMemberNames(schema: Schema, typeName: string): string[] {
  const t = schema.types.get(typeName);
  if (t?.meta === 'struct') return structMembers(schema, t).map((m) => m.name);
  if (t?.meta === 'union') return unionBaseMembers(schema, t).map((m) => m.name);
  return [];
}

/** JSON types an alternate branch claims (QEMU's qtypes). */
function alternateQtypes(schema: Schema, t: TypeExpr): string[] {
  if (typeof t !== 'string') return ['array'];
  const b = BUILTIN_TYPES.get(t);
  if (b === 'int' || b === 'number') return ['number'];
  if (b === 'string') return ['string'];
  if (b === 'boolean') return ['boolean'];
  if (b === 'null') return ['null'];
  if (b === 'value') return ['number', 'string', 'boolean', 'null', 'object', 'array'];
  const def = schema.types.get(t);
  if (def?.meta === 'enum') return ['string'];
  if (def?.meta === 'struct' || def?.meta === 'union') return ['object'];
  return ['alternate'];
}

function checkMembersTypes(schema: Schema, def: Definition, members: readonly Member[], where: string): void {
  for (const m of members) lookupType(schema, def, m.type, `${where} member '${m.name}'`);
}

function checkDefinition(schema: Schema, def: Definition): void {
  switch (def.meta) {
    case 'enum':
      return;
    case 'struct': {
      checkMembersTypes(schema, def, def.members, "'data'");
      const all = structMembers(schema, def);
      const seen = new Set<string>();
      for (const m of all) {
        if (seen.has(m.name)) throw err(def.info, describe(def), `member '${m.name}' collides with a member of its base`);
        seen.add(m.name);
      }
      return;
    }
    case 'union': {
      if (typeof def.base !== 'string') checkMembersTypes(schema, def, def.base, "'base'");
      const base = unionBaseMembers(schema, def);
      const disc = base.find((m) => m.name === def.discriminator);
      if (!disc) throw err(def.info, describe(def), `discriminator '${def.discriminator}' is not a member of 'base'`);
      if (disc.optional) throw err(def.info, describe(def), `discriminator member '${disc.name}' of 'base' must not be optional`);
      if (disc.if !== undefined) throw err(def.info, describe(def), `discriminator member '${disc.name}' of 'base' must not be conditional`);
      const enumDef = typeof disc.type === 'string' ? schema.types.get(disc.type) : undefined;
      if (!enumDef || enumDef.meta !== 'enum') {
        throw err(def.info, describe(def), `discriminator member '${disc.name}' of 'base' must be of enum type`);
      }
      const baseNames = new Set(base.map((m) => m.name));
      const seen = new Set<string>();
      for (const b of def.branches) {
        if (!enumDef.values.some((v) => v.name === b.name)) {
          throw err(def.info, describe(def), `branch '${b.name}' is not a value of ${describe(enumDef)}`);
        }
        if (seen.has(b.name)) throw err(def.info, describe(def), `duplicate branch '${b.name}'`);
        seen.add(b.name);
        const bt = schema.types.get(b.type);
        if (!bt) throw err(def.info, describe(def), `branch '${b.name}' uses unknown type '${b.type}'`);
        if (bt.meta !== 'struct') throw err(def.info, describe(def), `branch '${b.name}' must be a struct type, not ${describe(bt)}`);
        for (const n of objectMemberNames(schema, b.type)) {
          if (baseNames.has(n)) throw err(def.info, describe(def), `member '${n}' of branch '${b.name}' collides with a base member`);
        }
      }
      return;
    }
    case 'alternate': {
      const claimed = new Map<string, string>();
      for (const b of def.branches) {
        lookupType(schema, def, b.type, `branch '${b.name}'`);
        for (const q of alternateQtypes(schema, b.type)) {
          if (q === 'alternate') throw err(def.info, describe(def), `branch '${b.name}' cannot be an alternate`);
          const other = claimed.get(q);
          if (other !== undefined) {
            throw err(def.info, describe(def), `branch '${b.name}' can't be distinguished from '${other}'`);
          }
          claimed.set(q, b.name);
        }
      }
      return;
    }
    case 'command':
    case 'event': {
      if (typeof def.data === 'string') {
        const t = schema.types.get(def.data);
        if (!t) throw err(def.info, describe(def), `'data' uses unknown type '${def.data}'`);
        if (t.meta !== 'struct' && !(def.boxed && (t.meta === 'union' || t.meta === 'alternate'))) {
          throw err(def.info, describe(def), `'data' must name a struct type, not ${describe(t)}`);
        }
      } else if (def.data !== undefined) {
        checkMembersTypes(schema, def, def.data, "'data'");
      }
      if (def.meta === 'command' && def.returns !== undefined) {
        lookupType(schema, def, def.returns, "'returns'");
        if (!schema.pragmas.commandReturnsExceptions.includes(def.name)) {
          const elem = typeof def.returns === 'string' ? def.returns : def.returns.array;
          const t = schema.types.get(elem);
          if (!t || (t.meta !== 'struct' && t.meta !== 'union')) {
            throw err(def.info, describe(def), `'returns' cannot take ${isBuiltin(elem) ? `built-in type '${elem}'` : describe(t!)}`);
          }
        }
      }
      return;
    }
  }
}

/** Names a documentation block of `def` must (and may) describe with '@name:'. */
function documentableMembers(schema: Schema, def: Definition): string[] {
  switch (def.meta) {
    case 'enum':
      return def.values.map((v) => v.name);
    case 'struct':
      return def.members.map((m) => m.name);
    case 'union':
      return typeof def.base === 'string' ? [] : def.base.map((m) => m.name);
    case 'alternate':
      return def.branches.map((b) => b.name);
    case 'command':
    case 'event':
      return Array.isArray(def.data) ? def.data.map((m: Member) => m.name) : [];
  }
}

function checkDoc(schema: Schema, def: Definition): void {
  const doc = def.doc;
  if (!doc) {
    if (schema.pragmas.docRequired) throw err(def.info, describe(def), 'documentation required');
    return;
  }
  if (doc.symbol !== def.name) {
    throw err(doc.info, '', `documentation for '${doc.symbol}' is followed by the definition of '${def.name}'`);
  }
  const documentable = documentableMembers(schema, def);
  for (const [name, arg] of doc.args) {
    if (!documentable.includes(name)) {
      throw err(arg.info, describe(def), `documented member '${name}' does not exist`);
    }
  }
  const featureNames = def.features.map((f) => f.name);
  for (const [name, f] of doc.features) {
    if (!featureNames.includes(name)) throw err(f.info, describe(def), `documented feature '${name}' does not exist`);
  }
  if (schema.pragmas.docRequired && !schema.pragmas.documentationExceptions.includes(def.name)) {
    const missing = documentable.filter((n) => !doc.args.has(n) || doc.args.get(n)!.text === '');
    if (missing.length > 0) {
      throw err(doc.info, describe(def), `undocumented members: ${missing.join(', ')}`);
    }
    const missingFeatures = featureNames.filter((n) => !doc.features.has(n));
    if (missingFeatures.length > 0) {
      throw err(doc.info, describe(def), `undocumented features: ${missingFeatures.join(', ')}`);
    }
  }
}
