// fnmatch(3) without flags, for names that hold no '/' (interface names): `*` any run, `?` one
// character, `[abc]` `[a-z]` `[!x]` `[^x]` one of a set, `\x` a literal x. A `[` with no closing `]` is
// an ordinary character and a pattern ending in a lone `\` matches nothing, as in glibc. POSIX classes
// and collating elements (`[[:digit:]]`, `[[.x.]]`, `[[=x=]]`) are refused with a GlobError. Compiled once to a RegExp (names are short: IFNAMSIZ is 16).

// What a 'u' RegExp lets be escaped: outside a class its syntax characters, inside a class also '-'.
const lit = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const classLit = (c: string): string => c.replace(/[\]\\^-]/g, '\\$&');

export class GlobError extends Error {}

/** The RegExp that matches exactly the names fnmatch(pattern, name, 0) accepts. */
export function globToRegExp(pattern: string): RegExp {
  const chars = [...pattern];
  let re = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    if (c === '*') {
      re += '[^]*';
    } else if (c === '?') {
      re += '[^]';
    } else if (c === '\\') {
      if (i + 1 === chars.length) return /(?!)/;
      re += lit(chars[++i]);
    } else if (c === '[') {
      const set = bracket(chars, i + 1);
      if (set === undefined) re += '\\[';
      else {
        re += set.re;
        i = set.end;
      }
    } else {
      re += lit(c);
    }
  }
  return new RegExp(`^${re}$`, 'u');
}

/** A bracket expression starting after its `[`: its RegExp class and the index of its `]`, or undefined if unclosed. */
function bracket(chars: string[], start: number): { re: string; end: number } | undefined {
  let i = start;
  let negate = false;
  if (chars[i] === '!' || chars[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  // A `]` right after `[` or `[!` is a member, not the end.
  for (let first = true; i < chars.length; first = false, i++) {
    const c = chars[i];
    if (c === ']' && !first) return { re: `[${negate ? '^' : ''}${body}]`, end: i };
    if (c === '[' && (chars[i + 1] === ':' || chars[i + 1] === '.' || chars[i + 1] === '=')) {
      throw new GlobError(`'[${chars[i + 1]}' (a POSIX class or collating element) is not supported in a pattern`);
    }
    let from = c;
    if (c === '\\' && i + 1 < chars.length) from = chars[++i];
    if (chars[i + 1] === '-' && i + 2 < chars.length && chars[i + 2] !== ']') {
      let to = chars[i + 2];
      i += 2;
      if (to === '\\' && i + 1 < chars.length) to = chars[++i];
      // An inverted range (z-a) matches nothing in glibc; an empty class says the same.
      if (to.codePointAt(0)! >= from.codePointAt(0)!) body += `${classLit(from)}-${classLit(to)}`;
    } else {
      body += classLit(from);
    }
  }
  return undefined;
}

/** Matches names against a list of glob patterns (compiled once). */
export class GlobList {
  private readonly res: RegExp[];
  constructor(readonly patterns: readonly string[]) {
    this.res = patterns.map(globToRegExp);
  }
  get empty(): boolean {
    return this.res.length === 0;
  }
  matches(name: string): boolean {
    return this.res.some((re) => re.test(name));
  }
}
