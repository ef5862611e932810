// tools/qapi: the QAPI-dialect parser and the schema checker, on good and malformed input.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { QapiError, parseSchemaText } from '../../tools/qapi/parser.ts';
import { loadSchema, loadSchemaText, type AlternateDef, type CommandDef, type EnumDef, type Member, type StructDef } from '../../tools/qapi/schema.ts';

const SCHEMA = new URL('../../schema/qga.json', import.meta.url).pathname;

/** The message of the QapiError `fn` throws. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof QapiError, `expected QapiError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a QapiError');
}

const parseErr = (text: string) => failure(() => parseSchemaText(text, 't.json'));
const checkErr = (text: string) => failure(() => loadSchemaText(text, 't.json'));

describe('qapi parser: syntax', () => {
  it('parses strings, booleans, nested objects and arrays, keeping member order', () => {
    const p = parseSchemaText(
      "# comment\n{ 'struct': 'S', 'data': { 'b': 'int', '*a': ['str'] } }\n{ 'command': 'c', 'success-response': false }\n",
      't.json',
    );
    assert.equal(p.exprs.length, 2);
    const data = p.exprs[0]!.expr.get('data');
    assert.ok(data instanceof Map);
    assert.deepEqual([...data.keys()], ['b', '*a']);
    assert.deepEqual(data.get('*a'), ['str']);
    assert.equal(p.exprs[1]!.expr.get('success-response'), false);
    assert.deepEqual(p.exprs[1]!.info, { file: 't.json', line: 3, col: 1 });
  });

  it('handles the string escapes \\\\ \\\' and \\/', () => {
    const p = parseSchemaText("{ 'enum': 'E', 'data': [ 'a\\'b', 'c\\\\d', 'e\\/f' ] }", 't.json');
    assert.deepEqual(p.exprs[0]!.expr.get('data'), ["a'b", 'c\\d', 'e/f']);
  });

  it('reports malformed input with file:line:col', () => {
    assert.equal(parseErr("{ 'a': 'b'"), "t.json:1:11: expected ',' or '}'");
    assert.equal(parseErr("\n\n  { 'a' 'b' }"), "t.json:3:9: expected ':'");
    assert.equal(parseErr("{ 'a': 'b', }"), "t.json:1:13: expected string or '}'");
    assert.equal(parseErr("{ 'a': 1 }"), "t.json:1:8: stray '1'");
    assert.equal(parseErr("{ 'a': null }"), "t.json:1:8: stray 'null'");
    assert.equal(parseErr("{ 'a': ['x' 'y'] }"), "t.json:1:13: expected ',' or ']'");
    assert.equal(parseErr("{ 'a': 'b\n' }"), 't.json:1:10: missing terminating "\'"');
    assert.equal(parseErr("{ 'a': 'b\\n' }"), 't.json:1:10: unknown escape \\n');
    assert.equal(parseErr("{ 'a': 'b\u00e9' }"), 't.json:1:10: funny character in string');
    assert.equal(parseErr("{ 'a': 'b', 'a': 'c' }"), "t.json:1:13: duplicate key 'a'");
    assert.equal(parseErr("['a']"), 't.json:1:1: top-level expression must be an object');
    assert.equal(parseErr("{ 'a': }"), "t.json:1:8: expected '{', '[', string, or boolean");
  });

  it('parses documentation blocks into symbol, body, members and sections', () => {
    const p = parseSchemaText(
      [
        '##',
        '# = A heading',
        '##',
        '',
        '##',
        '# @S:',
        '#',
        '# Body text.',
        '#',
        '# @a: first line',
        '#     continued',
        '#',
        '# @b:',
        '#     * item',
        '#',
        '# Returns: something',
        '#',
        '# Since: 1.0',
        '##',
        "{ 'struct': 'S', 'data': { 'a': 'int', 'b': 'str' } }",
      ].join('\n'),
      't.json',
    );
    assert.equal(p.docs.length, 2);
    assert.equal(p.docs[0]!.symbol, null);
    assert.equal(p.docs[0]!.body, '= A heading');
    const doc = p.exprs[0]!.doc!;
    assert.equal(doc.symbol, 'S');
    assert.equal(doc.body, 'Body text.');
    assert.equal(doc.args.get('a')!.text, 'first line\ncontinued');
    assert.equal(doc.args.get('b')!.text, '* item');
    assert.deepEqual(
      doc.sections.map((s) => [s.tag, s.text]),
      [
        ['Returns', 'something'],
        ['Since', '1.0'],
      ],
    );
  });

  it('rejects malformed documentation blocks', () => {
    assert.equal(parseErr("##\n#@S:\n##\n{ 'struct': 'S', 'data': {} }"), 't.json:2:1: missing space after #');
    assert.equal(parseErr("## x\n# @S:\n##\n"), "t.json:1:1: junk after '##' at start of documentation comment");
    assert.equal(parseErr("##\n# @S:\n{ 'struct': 'S', 'data': {} }"), "t.json:3:1: documentation comment must end with '##'");
    assert.equal(parseErr("##\n# @S:\n## x\n"), "t.json:3:1: junk after '##' at end of documentation comment");
    assert.equal(parseErr("##\n# @S:\n##\n{ 'pragma': { 'doc-required': true } }"), "t.json:1:1: documentation for 'S' is not followed by the definition");
    assert.equal(parseErr("##\n# Free text\n##\n{ 'struct': 'S', 'data': {} }"), 't.json:1:1: definition documentation required');
    assert.equal(parseErr("##\n# @S:\n#\n# @a: x\n# @a: y\n##\n{ 'struct': 'S', 'data': {'a': 'int'} }"), "t.json:5:1: '@a:' is documented twice");
  });

  it('follows includes relative to the including file, once each, and rejects loops', () => {
    const files: Record<string, string> = {
      'dir/main.json': "{ 'include': 'sub/a.json' }\n{ 'include': 'sub/a.json' }\n{ 'struct': 'M', 'data': { 'a': 'A' } }",
      'dir/sub/a.json': "{ 'struct': 'A', 'data': {} }",
    };
    const loader = (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Error('ENOENT');
      return text;
    };
    const s = loadSchemaText(files['dir/main.json']!, 'dir/main.json', { loader });
    assert.deepEqual(
      s.definitions.map((d) => d.name),
      ['A', 'M'],
    );
    const loop = { 'l/a.json': "{ 'include': 'b.json' }", 'l/b.json': "{ 'include': 'a.json' }" } as Record<string, string>;
    assert.match(
      failure(() => parseSchemaText(loop['l/a.json']!, 'l/a.json', { loader: (p) => loop[p]! })),
      /^l\/b\.json:1:1: inclusion loop for a\.json$/,
    );
    assert.match(
      failure(() => parseSchemaText("{ 'include': 'nope.json' }", 't.json', { loader })),
      /^t\.json:1:1: can't read include file 'nope\.json'/,
    );
  });

  it('collects pragmas', () => {
    const p = parseSchemaText(
      "{ 'pragma': { 'doc-required': true } }\n{ 'pragma': { 'command-returns-exceptions': [ 'x' ], 'member-name-exceptions': [ 'Y' ] } }",
      't.json',
    );
    assert.equal(p.pragmas.docRequired, true);
    assert.deepEqual(p.pragmas.commandReturnsExceptions, ['x']);
    assert.deepEqual(p.pragmas.memberNameExceptions, ['Y']);
    assert.equal(parseErr("{ 'pragma': { 'no-such': true } }"), "t.json:1:1: unknown pragma 'no-such'");
    assert.equal(parseErr("{ 'pragma': { 'doc-required': true }, 'x': 'y' }"), "t.json:1:1: invalid 'pragma' directive");
  });
});

describe('qapi checker: semantics', () => {
  it('accepts conditions: symbols, all, any, not, on definitions, members and enum values', () => {
    const s = loadSchemaText(
      [
        "{ 'enum': 'E', 'data': [ 'a', { 'name': 'b', 'if': { 'not': 'CONFIG_WIN32' } } ], 'if': 'CONFIG_LINUX' }",
        "{ 'struct': 'S', 'data': { 'x': { 'type': 'int', 'if': { 'all': [ 'A', { 'any': [ 'B', 'C' ] } ] } } } }",
      ].join('\n'),
      't.json',
    );
    const e = s.types.get('E') as EnumDef;
    assert.equal(e.if, 'CONFIG_LINUX');
    assert.deepEqual(e.values[1], { name: 'b', features: [], if: { not: 'CONFIG_WIN32' } });
    const st = s.types.get('S') as StructDef;
    assert.deepEqual(st.members[0]!.if, { all: ['A', { any: ['B', 'C'] }] });
  });

  it('rejects bad definitions with the offending line', () => {
    assert.equal(checkErr("{ 'struct': 'S' }"), "t.json:1:1: struct 'S': missing key 'data'");
    assert.equal(checkErr("\n{ 'struct': 'S', 'data': {}, 'bogus': 1 }".replace('1', "'x'")), "t.json:2:1: struct 'S': unknown key 'bogus'");
    assert.equal(checkErr("{ 'data': {} }"), 't.json:1:1: expression is missing metatype (one of enum, struct, union, alternate, command, event)');
    assert.equal(checkErr("{ 'struct': 'S', 'data': { 'a': 'Nope' } }"), "t.json:1:1: struct 'S': 'data' member 'a' uses unknown type 'Nope'");
    assert.equal(checkErr("{ 'struct': 'S', 'data': {} }\n{ 'struct': 'S', 'data': {} }"), "t.json:2:1: struct 'S': 'S' is already defined at line 1");
    assert.equal(checkErr("{ 'struct': 'S', 'data': { 'a': ['int', 'str'] } }"), "t.json:1:1: struct 'S': 'data' member 'a': array type must contain single type name");
    assert.equal(checkErr("{ 'struct': 'S', 'data': { 'a_b': 'int' } }"), "t.json:1:1: struct 'S': 'data' member 'a_b' uses '_' (allowed only by pragma member-name-exceptions)");
    assert.equal(checkErr("{ 'struct': 's', 'data': {} }"), "t.json:1:1: struct 's': name should use CamelCase");
    assert.equal(checkErr("{ 'command': 'c', 'success-response': true }"), "t.json:1:1: command 'c': flag 'success-response' may only use false value");
    assert.equal(checkErr("{ 'struct': 'S', 'data': {}, 'if': { 'xor': ['A'] } }"), "t.json:1:1: struct 'S': 'if' condition of struct 'S' has unknown operator 'xor'");
    assert.equal(checkErr("{ 'struct': 'S', 'data': {}, 'if': { 'any': [] } }"), "t.json:1:1: struct 'S': 'if' condition of struct 'S' 'any' of an empty list is useless");
    assert.equal(checkErr("{ 'struct': 'S', 'data': {}, 'if': 'lower' }"), "t.json:1:1: struct 'S': 'if' condition of struct 'S' has invalid symbol 'lower'");
    assert.equal(checkErr("{ 'enum': 'E', 'data': [ 'a', 'a' ] }"), "t.json:1:1: enum 'E': duplicate value 'a'");
  });

  it('accepts downstream-extension names (__RFQDN_) on commands, types and members, and nothing looser', () => {
    const s = loadSchemaText(
      "{ 'enum': '__io.qga-ts_Kind', 'data': [ 'a' ] }\n" +
        "{ 'struct': '__io.qga-ts_Info', 'data': { 'kind': '__io.qga-ts_Kind', '*__org.example_x-y': 'int' } }\n" +
        "{ 'command': '__io.qga-ts_guest-thing', 'data': { 'path': 'str' }, 'returns': '__io.qga-ts_Info' }\n",
      't.json',
    );
    assert.deepEqual([...s.commands.keys()], ['__io.qga-ts_guest-thing']);
    assert.deepEqual((s.types.get('__io.qga-ts_Info') as StructDef).members.map((m) => m.name), ['kind', '__org.example_x-y']);
    assert.match(checkErr("{ 'command': '__IO.x_c' }"), /invalid name|should use lowercase/);
    assert.match(checkErr("{ 'struct': '__io.x_lower', 'data': {} }"), /CamelCase/);
  });

  it('checks struct bases, unions and alternates', () => {
    assert.equal(
      checkErr("{ 'struct': 'B', 'data': { 'a': 'int' } }\n{ 'struct': 'S', 'base': 'B', 'data': { 'a': 'str' } }"),
      "t.json:2:1: struct 'S': member 'a' collides with a member of its base",
    );
    const union = (disc: string, branch: string) =>
      `{ 'enum': 'K', 'data': [ 'x', 'y' ] }\n{ 'struct': 'X', 'data': { 'v': 'int' } }\n{ 'union': 'U', 'base': { 'kind': 'K' }, 'discriminator': '${disc}', 'data': { '${branch}': 'X' } }`;
    assert.doesNotThrow(() => loadSchemaText(union('kind', 'x'), 't.json'));
    assert.equal(checkErr(union('nope', 'x')), "t.json:3:1: union 'U': discriminator 'nope' is not a member of 'base'");
    assert.equal(checkErr(union('kind', 'z')), "t.json:3:1: union 'U': branch 'z' is not a value of enum 'K'");
    assert.equal(
      checkErr("{ 'enum': 'E', 'data': ['a'] }\n{ 'alternate': 'A', 'data': { 's': 'str', 'e': 'E' } }"),
      "t.json:2:1: alternate 'A': branch 'e' can't be distinguished from 's'",
    );
    assert.equal(
      checkErr("{ 'alternate': 'A', 'data': { 'i': 'int', 'n': 'number' } }"),
      "t.json:1:1: alternate 'A': branch 'n' can't be distinguished from 'i'",
    );
  });

  it("requires object returns unless the command is a 'command-returns-exceptions' entry", () => {
    assert.equal(checkErr("{ 'command': 'c', 'returns': 'int' }"), "t.json:1:1: command 'c': 'returns' cannot take built-in type 'int'");
    assert.doesNotThrow(() => loadSchemaText("{ 'pragma': { 'command-returns-exceptions': [ 'c' ] } }\n{ 'command': 'c', 'returns': 'int' }", 't.json'));
  });

  it('enforces documentation under doc-required', () => {
    const head = "{ 'pragma': { 'doc-required': true } }\n";
    assert.equal(checkErr(`${head}{ 'struct': 'S', 'data': {} }`), "t.json:2:1: struct 'S': documentation required");
    assert.equal(
      checkErr(`${head}##\n# @S:\n#\n# @a: the a\n##\n{ 'struct': 'S', 'data': { 'a': 'int', 'b': 'int' } }`),
      "t.json:2:1: struct 'S': undocumented members: b",
    );
    assert.equal(
      checkErr(`${head}##\n# @S:\n#\n# @zz: none\n##\n{ 'struct': 'S', 'data': {} }`),
      "t.json:5:1: struct 'S': documented member 'zz' does not exist",
    );
    assert.equal(
      checkErr(`${head}##\n# @T:\n##\n{ 'struct': 'S', 'data': {} }`),
      "t.json:2:1: documentation for 'T' is followed by the definition of 'S'",
    );
  });
});

describe('schema/qga.json', () => {
  const schema = loadSchema(SCHEMA);

  it('parses and checks, with every definition documented', () => {
    assert.equal(schema.pragmas.docRequired, true);
    for (const def of schema.definitions) assert.equal(def.doc?.symbol, def.name, def.name);
  });

  it('keeps the definitions the protocol depends on', () => {
    const exec = schema.commands.get('guest-exec') as CommandDef;
    assert.deepEqual(
      (exec.data as readonly Member[]).map((m) => `${m.optional ? '*' : ''}${m.name}`),
      ['path', '*arg', '*env', '*input-data', '*capture-output'],
    );
    assert.equal(exec.returns, 'GuestExec');
    assert.equal((schema.commands.get('guest-shutdown') as CommandDef).successResponse, false);
    const whence = schema.types.get('GuestFileWhence') as AlternateDef;
    assert.deepEqual(whence.branches.map((b) => [b.name, b.type]), [
      ['value', 'int'],
      ['name', 'QGASeek'],
    ]);
    const mode = schema.types.get('GuestExecCaptureOutputMode') as EnumDef;
    assert.deepEqual(mode.values.at(-1), { name: 'merged', features: [], if: { not: 'CONFIG_WIN32' } });
    assert.equal(schema.commands.get('guest-get-devices')!.if, 'CONFIG_WIN32');
    assert.deepEqual(schema.commands.get('guest-get-load')!.if, { any: ['CONFIG_WIN32', 'CONFIG_GETLOADAVG'] });
    const route = schema.types.get('GuestNetworkRoute') as StructDef;
    assert.equal(route.if, 'CONFIG_LINUX');
    assert.deepEqual(
      route.members.map((m) => `${m.optional ? '*' : ''}${m.name}:${String(m.type)}`),
      [
        'iface:str', 'destination:str', 'metric:int', '*gateway:str', '*mask:str', '*irtt:int', '*flags:uint64',
        '*refcnt:int', '*use:int', '*window:int', '*mtu:int', '*desprefixlen:str', '*source:str',
        '*srcprefixlen:str', '*nexthop:str', 'version:int',
      ],
    );
    const load = schema.types.get('GuestLoadAverage') as StructDef;
    assert.deepEqual(load.members.map((m) => `${m.name}:${String(m.type)}`), ['load1m:number', 'load5m:number', 'load15m:number']);
  });
});
