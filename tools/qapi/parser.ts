// QAPI schema parser: the JSON-like dialect QEMU uses for its schemas.
//
// Syntax handled here (semantics live in schema.ts):
//   - single-quoted strings with the escapes \\ \' \/ ; printable ASCII only
//   - the keywords true and false; objects and arrays; no numbers, no null
//   - '#' comments to end of line
//   - documentation blocks: a line '##', lines '# ...', a closing '##' (top level only)
//   - top-level expressions: objects; { 'include': 'file' } and { 'pragma': {...} }
//     are directives, everything else is a definition.
//
// Every error is a QapiError whose message starts with "file:line:col: ".

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export interface SourceInfo {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export class QapiError extends Error {
  constructor(
    readonly info: SourceInfo | null,
    readonly detail: string,
  ) {
    super(info ? `${info.file}:${info.line}:${info.col}: ${detail}` : detail);
    this.name = 'QapiError';
  }
}

/** A parsed value: strings, booleans, arrays, and objects (Maps keep member order). */
export type QapiValue = string | boolean | QapiValue[] | QapiObject;
export type QapiObject = Map<string, QapiValue>;

/** One paragraph-level section of a documentation block. */
export interface DocSection {
  /** 'Returns', 'Since', 'Errors', 'Note', 'Notes', 'TODO', 'Example', ... or null for plain text. */
  readonly tag: string | null;
  text: string;
  readonly info: SourceInfo;
}

export interface DocArg {
  readonly name: string;
  text: string;
  readonly info: SourceInfo;
}

export interface QapiDoc {
  readonly info: SourceInfo;
  /** The documented definition's name, or null for a free-form block. */
  readonly symbol: string | null;
  /** Text before the first member/tagged section (free-form blocks: all text). */
  body: string;
  /** '@member: text' entries, in order. */
  readonly args: Map<string, DocArg>;
  /** Entries of a 'Features:' section. */
  readonly features: Map<string, DocArg>;
  /** Tagged sections and plain paragraphs after the members. */
  readonly sections: DocSection[];
}

export interface Pragmas {
  docRequired: boolean;
  commandNameExceptions: string[];
  commandReturnsExceptions: string[];
  documentationExceptions: string[];
  memberNameExceptions: string[];
}

export interface ParsedExpr {
  readonly expr: QapiObject;
  readonly info: SourceInfo;
  readonly doc: QapiDoc | null;
}

export interface ParsedSchema {
  /** Definitions in schema order, includes expanded in place. */
  readonly exprs: ParsedExpr[];
  /** Every documentation block, free-form ones included, in order. */
  readonly docs: QapiDoc[];
  readonly pragmas: Pragmas;
  /** Files read, the main one first. */
  readonly files: string[];
}

export type FileLoader = (path: string) => string;

export const defaultLoader: FileLoader = (path) => readFileSync(path, 'utf8');

export interface ParseOptions {
  /** Reads included files; defaults to the file system. */
  loader?: FileLoader;
}

/** Parse a schema file and everything it includes. */
export function parseSchemaFile(path: string, options: ParseOptions = {}): ParsedSchema {
  const loader = options.loader ?? defaultLoader;
  let text: string;
  try {
    text = loader(path);
  } catch (e) {
    throw new QapiError(null, `can't read schema file '${path}': ${(e as Error).message}`);
  }
  return parseSchemaText(text, path, options);
}

/** Parse schema text; `file` names it in errors and anchors relative includes. */
export function parseSchemaText(text: string, file: string, options: ParseOptions = {}): ParsedSchema {
  const state: IncludeState = {
    loader: options.loader ?? defaultLoader,
    seen: new Set([resolve(file)]),
    files: [file],
    exprs: [],
    docs: [],
    pragmas: {
      docRequired: false,
      commandNameExceptions: [],
      commandReturnsExceptions: [],
      documentationExceptions: [],
      memberNameExceptions: [],
    },
  };
  new FileParser(text, file, state, []).parse();
  return { exprs: state.exprs, docs: state.docs, pragmas: state.pragmas, files: state.files };
}

interface IncludeState {
  readonly loader: FileLoader;
  readonly seen: Set<string>;
  readonly files: string[];
  readonly exprs: ParsedExpr[];
  readonly docs: QapiDoc[];
  readonly pragmas: Pragmas;
}

type Token =
  | { kind: 'punct'; value: '{' | '}' | '[' | ']' | ',' | ':' }
  | { kind: 'string'; value: string }
  | { kind: 'bool'; value: boolean }
  | { kind: 'doc'; value: string } // a whole comment line starting with '##' or, inside a block, '#'
  | { kind: 'eof' };

const PRAGMA_LISTS: Record<string, keyof Omit<Pragmas, 'docRequired'>> = {
  'command-name-exceptions': 'commandNameExceptions',
  'command-returns-exceptions': 'commandReturnsExceptions',
  'documentation-exceptions': 'documentationExceptions',
  'member-name-exceptions': 'memberNameExceptions',
};

class FileParser {
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  private tok: Token = { kind: 'eof' };
  /** Where the current token starts. */
  private tokInfo: SourceInfo;
  /** Inside a documentation block, every comment line is a token. */
  private inDoc = false;

  constructor(
    private readonly src: string,
    private readonly file: string,
    private readonly state: IncludeState,
    private readonly includeStack: readonly string[],
  ) {
    this.tokInfo = { file, line: 1, col: 1 };
  }

  parse(): void {
    this.advance(true);
    let pendingDoc: QapiDoc | null = null;
    while (this.tok.kind !== 'eof') {
      const info = this.tokInfo;
      if (this.tok.kind === 'doc') {
        this.rejectDanglingDoc(pendingDoc);
        pendingDoc = this.parseDoc();
        this.state.docs.push(pendingDoc);
        continue;
      }
      const value = this.parseValue(true);
      if (!(value instanceof Map)) {
        throw new QapiError(info, 'top-level expression must be an object');
      }
      if (value.has('include')) {
        this.rejectDanglingDoc(pendingDoc);
        this.include(value, info);
      } else if (value.has('pragma')) {
        this.rejectDanglingDoc(pendingDoc);
        this.pragma(value, info);
      } else {
        if (pendingDoc && pendingDoc.symbol === null) {
          throw new QapiError(pendingDoc.info, 'definition documentation required');
        }
        this.state.exprs.push({ expr: value, info, doc: pendingDoc });
      }
      pendingDoc = null;
    }
    this.rejectDanglingDoc(pendingDoc);
  }

  private rejectDanglingDoc(doc: QapiDoc | null): void {
    if (doc && doc.symbol !== null) {
      throw new QapiError(doc.info, `documentation for '${doc.symbol}' is not followed by the definition`);
    }
  }

  // ---- directives -------------------------------------------------------------------

  private include(expr: QapiObject, info: SourceInfo): void {
    if (expr.size !== 1) throw new QapiError(info, "invalid 'include' directive");
    const target = expr.get('include');
    if (typeof target !== 'string') throw new QapiError(info, "value of 'include' must be a string");
    const path = join(dirname(this.file), target);
    const key = resolve(path);
    if ([...this.includeStack, resolve(this.file)].includes(key)) {
      throw new QapiError(info, `inclusion loop for ${target}`);
    }
    if (this.state.seen.has(key)) return; // QAPI includes each file once
    this.state.seen.add(key);
    this.state.files.push(path);
    let text: string;
    try {
      text = this.state.loader(path);
    } catch (e) {
      throw new QapiError(info, `can't read include file '${path}': ${(e as Error).message}`);
    }
    new FileParser(text, path, this.state, [...this.includeStack, resolve(this.file)]).parse();
  }

  private pragma(expr: QapiObject, info: SourceInfo): void {
    if (expr.size !== 1) throw new QapiError(info, "invalid 'pragma' directive");
    const body = expr.get('pragma');
    if (!(body instanceof Map)) throw new QapiError(info, "value of 'pragma' must be an object");
    for (const [name, value] of body) {
      if (name === 'doc-required') {
        if (typeof value !== 'boolean') throw new QapiError(info, "pragma 'doc-required' must be boolean");
        this.state.pragmas.docRequired = value;
        continue;
      }
      const key = PRAGMA_LISTS[name];
      if (key === undefined) throw new QapiError(info, `unknown pragma '${name}'`);
      if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
        throw new QapiError(info, `pragma ${name} must be a list of strings`);
      }
      this.state.pragmas[key] = [...value];
    }
  }

  // ---- values -----------------------------------------------------------------------

  private parseValue(topLevel: boolean): QapiValue {
    const tok = this.tok;
    const info = this.tokInfo;
    if (tok.kind === 'punct' && tok.value === '{') {
      this.advance(false);
      return this.parseObjectRest(topLevel);
    }
    if (tok.kind === 'punct' && tok.value === '[') {
      this.advance(false);
      return this.parseArrayRest();
    }
    if (tok.kind === 'string' || tok.kind === 'bool') {
      this.advance(false);
      return tok.value;
    }
    throw new QapiError(info, "expected '{', '[', string, or boolean");
  }

  private parseObjectRest(topLevel: boolean): QapiObject {
    const obj: QapiObject = new Map();
    if (this.isPunct('}')) {
      this.advance(topLevel);
      return obj;
    }
    for (;;) {
      const keyTok = this.tok;
      const keyInfo = this.tokInfo;
      if (keyTok.kind !== 'string') throw new QapiError(keyInfo, "expected string or '}'");
      this.advance(false);
      if (!this.isPunct(':')) throw new QapiError(this.tokInfo, "expected ':'");
      this.advance(false);
      if (obj.has(keyTok.value)) throw new QapiError(keyInfo, `duplicate key '${keyTok.value}'`);
      obj.set(keyTok.value, this.parseValue(false));
      if (this.isPunct('}')) {
        this.advance(topLevel);
        return obj;
      }
      if (!this.isPunct(',')) throw new QapiError(this.tokInfo, "expected ',' or '}'");
      this.advance(false);
    }
  }

  private parseArrayRest(): QapiValue[] {
    const arr: QapiValue[] = [];
    if (this.isPunct(']')) {
      this.advance(false);
      return arr;
    }
    for (;;) {
      arr.push(this.parseValue(false));
      if (this.isPunct(']')) {
        this.advance(false);
        return arr;
      }
      if (!this.isPunct(',')) throw new QapiError(this.tokInfo, "expected ',' or ']'");
      this.advance(false);
    }
  }

  private isPunct(p: string): boolean {
    return this.tok.kind === 'punct' && this.tok.value === p;
  }

  // ---- documentation blocks ---------------------------------------------------------

  private parseDoc(): QapiDoc {
    const startInfo = this.tokInfo;
    if (this.tok.kind !== 'doc' || this.tok.value !== '##') {
      throw new QapiError(startInfo, "junk after '##' at start of documentation comment");
    }
    // Collect the comment lines up to the closing '##'.
    this.inDoc = true;
    this.advance(false);
    const lines: { text: string; info: SourceInfo }[] = [];
    for (;;) {
      const tok = this.tok;
      if (tok.kind !== 'doc') {
        this.inDoc = false;
        throw new QapiError(this.tokInfo, "documentation comment must end with '##'");
      }
      if (tok.value.startsWith('##')) {
        if (tok.value !== '##') {
          this.inDoc = false;
          throw new QapiError(this.tokInfo, "junk after '##' at end of documentation comment");
        }
        this.inDoc = false;
        this.advance(true);
        break;
      }
      // '#' alone, or '# text'.
      if (tok.value.length > 1 && tok.value[1] !== ' ') {
        this.inDoc = false;
        throw new QapiError(this.tokInfo, "missing space after #");
      }
      lines.push({ text: tok.value.slice(2), info: this.tokInfo });
      this.advance(false);
    }
    return buildDoc(startInfo, lines);
  }

  // ---- lexer ------------------------------------------------------------------------

  /** Read the next token. `docAllowed`: a '##' line here starts a documentation block. */
  private advance(docAllowed: boolean): void {
    const src = this.src;
    for (;;) {
      const start = this.pos;
      this.tokInfo = { file: this.file, line: this.line, col: start - this.lineStart + 1 };
      if (start >= src.length) {
        this.tok = { kind: 'eof' };
        return;
      }
      const ch = src[start]!;
      this.pos = start + 1;
      if (ch === '#') {
        let end = src.indexOf('\n', start);
        if (end < 0) end = src.length;
        const text = src.slice(start, end).replace(/\s+$/, '');
        this.pos = end;
        if (this.inDoc || (docAllowed && text.startsWith('##'))) {
          this.tok = { kind: 'doc', value: text };
          return;
        }
        continue; // ordinary comment
      }
      if (ch === '\n') {
        this.line++;
        this.lineStart = this.pos;
        continue;
      }
      if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') continue;
      if (this.inDoc) {
        // Inside a documentation block only comment lines may appear.
        this.pos = start;
        this.tok = { kind: 'punct', value: ',' };
        throw new QapiError(this.tokInfo, "documentation comment must end with '##'");
      }
      if (ch === '{' || ch === '}' || ch === '[' || ch === ']' || ch === ',' || ch === ':') {
        this.tok = { kind: 'punct', value: ch };
        return;
      }
      if (ch === "'") {
        this.tok = { kind: 'string', value: this.lexString() };
        return;
      }
      if (/[a-zA-Z]/.test(ch)) {
        let end = this.pos;
        while (end < src.length && /[a-zA-Z0-9_-]/.test(src[end]!)) end++;
        const word = src.slice(start, end);
        if (word === 'true' || word === 'false') {
          this.pos = end;
          this.tok = { kind: 'bool', value: word === 'true' };
          return;
        }
        throw new QapiError(this.tokInfo, `stray '${word}'`);
      }
      throw new QapiError(this.tokInfo, `stray '${ch}'`);
    }
  }

  private lexString(): string {
    const src = this.src;
    let out = '';
    for (;;) {
      const i = this.pos;
      if (i >= src.length || src[i] === '\n') {
        throw new QapiError(this.here(i), 'missing terminating "\'"');
      }
      const ch = src[i]!;
      this.pos = i + 1;
      if (ch === "'") return out;
      if (ch === '\\') {
        const esc = src[this.pos];
        if (esc === undefined || esc === '\n') throw new QapiError(this.here(i), 'missing terminating "\'"');
        this.pos++;
        if (esc !== '\\' && esc !== "'" && esc !== '/') {
          throw new QapiError(this.here(i), `unknown escape \\${esc}`);
        }
        out += esc;
        continue;
      }
      const code = ch.charCodeAt(0);
      if (code < 32 || code >= 127) throw new QapiError(this.here(i), 'funny character in string');
      out += ch;
    }
  }

  private here(offset: number): SourceInfo {
    return { file: this.file, line: this.line, col: offset - this.lineStart + 1 };
  }
}

// ---- documentation structure ----------------------------------------------------------

const SECTION_TAGS = new Set([
  'Returns',
  'Since',
  'Errors',
  'Note',
  'Notes',
  'TODO',
  'Example',
  'Examples',
  'See also',
]);

const SYMBOL_LINE = /^@([A-Za-z0-9_.-]+):$/;
const ARG_LINE = /^@([A-Za-z0-9_.-]+):(?:\s(.*))?$/;
const TAG_LINE = /^([A-Z][A-Za-z ]*):(?:\s(.*))?$/;

function buildDoc(info: SourceInfo, lines: { text: string; info: SourceInfo }[]): QapiDoc {
  let symbol: string | null = null;
  let first = 0;
  const firstLine = lines[0];
  if (firstLine && firstLine.text.startsWith('@')) {
    const m = SYMBOL_LINE.exec(firstLine.text);
    if (!m) throw new QapiError(firstLine.info, "the documented symbol must be alone on its line, as '@name:'");
    symbol = m[1]!;
    first = 1;
  }
  const doc: QapiDoc = { info, symbol, body: '', args: new Map(), features: new Map(), sections: [] };
  if (symbol === null) {
    doc.body = lines.map((l) => l.text).join('\n').trim();
    return doc;
  }

  // The open section receives continuation lines.
  type Open = { kind: 'body' } | { kind: 'arg'; target: DocArg } | { kind: 'section'; target: DocSection };
  let open: Open = { kind: 'body' };
  let inFeatures = false;
  let blankBefore = false;
  const bodyLines: string[] = [];

  const append = (target: { text: string }, text: string) => {
    target.text = target.text === '' ? text : `${target.text}\n${text}`;
  };

  for (let i = first; i < lines.length; i++) {
    const { text, info: lineInfo } = lines[i]!;
    if (text.trim() === '') {
      blankBefore = true;
      if (open.kind === 'body') bodyLines.push('');
      else if (open.kind === 'arg' || open.kind === 'section') append(open.target, '');
      continue;
    }
    const indented = /^\s/.test(text);
    const argMatch = indented ? null : ARG_LINE.exec(text);
    if (argMatch) {
      const name = argMatch[1]!;
      const table = inFeatures ? doc.features : doc.args;
      if (table.has(name)) throw new QapiError(lineInfo, `'@${name}:' is documented twice`);
      if (!inFeatures && doc.sections.some((s) => s.tag !== null)) {
        throw new QapiError(lineInfo, `description of '@${name}:' follows a section`);
      }
      const entry: DocArg = { name, text: (argMatch[2] ?? '').trim(), info: lineInfo };
      table.set(name, entry);
      open = { kind: 'arg', target: entry };
      blankBefore = false;
      continue;
    }
    const tagMatch = indented ? null : TAG_LINE.exec(text);
    if (tagMatch && (SECTION_TAGS.has(tagMatch[1]!) || tagMatch[1] === 'Features')) {
      const tag = tagMatch[1]!;
      blankBefore = false;
      if (tag === 'Features') {
        if ((tagMatch[2] ?? '').trim() !== '') throw new QapiError(lineInfo, "text not allowed after 'Features:'");
        inFeatures = true;
        open = { kind: 'body' };
        continue;
      }
      inFeatures = false;
      if ((tag === 'Returns' || tag === 'Since') && doc.sections.some((s) => s.tag === tag)) {
        throw new QapiError(lineInfo, `duplicated '${tag}' section`);
      }
      const section: DocSection = { tag, text: (tagMatch[2] ?? '').trim(), info: lineInfo };
      doc.sections.push(section);
      open = { kind: 'section', target: section };
      continue;
    }
    // Plain text: continues the open entry when indented or not separated by a blank line.
    const continues = indented || !blankBefore;
    blankBefore = false;
    if (open.kind === 'arg' || open.kind === 'section') {
      if (continues) {
        append(open.target, text.trim() === '' ? '' : text.replace(/^\s+/, ''));
        continue;
      }
      // An unindented paragraph after an entry: plain text of its own.
      inFeatures = false;
      const section: DocSection = { tag: null, text: text.trim(), info: lineInfo };
      doc.sections.push(section);
      open = { kind: 'section', target: section };
      continue;
    }
    if (doc.args.size > 0 || doc.sections.length > 0) {
      const section: DocSection = { tag: null, text: text.trim(), info: lineInfo };
      doc.sections.push(section);
      open = { kind: 'section', target: section };
      continue;
    }
    bodyLines.push(text);
  }
  doc.body = bodyLines.join('\n').trim();
  for (const a of doc.args.values()) a.text = a.text.trim();
  for (const f of doc.features.values()) f.text = f.text.trim();
  for (const s of doc.sections) s.text = s.text.trim();
  return doc;
}
