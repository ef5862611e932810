import * as fs from 'node:fs';

// Paths of the OS view (/proc, /sys, /dev, /run, /var/run) under the agent's root, so that tests can point
// the commands at a captured fixture tree. With the root "/" every path is used as it is.

/** `root` + `abs` (an absolute path); `root` may end in a slash. */
export function rooted(root: string, abs: string): string {
  if (root === '/' || root === '') return abs;
  return root.endsWith('/') ? root.slice(0, -1) + abs : root + abs;
}

const canonical = new Map<string, string>();

/** The root as realpath() spells it (resolved once per root), so resolved paths can be mapped back. */
function canonicalRoot(root: string): string {
  let c = canonical.get(root);
  if (c === undefined) {
    try {
      c = fs.realpathSync.native(root);
    } catch {
      c = root.endsWith('/') ? root.slice(0, -1) : root;
    }
    canonical.set(root, c);
  }
  return c;
}

/**
 * The inverse of rooted() for a path that realpath() returned: the absolute path as the guest sees it,
 * or undefined if `p` lies outside the root.
 */
export function unrooted(root: string, p: string): string | undefined {
  if (root === '/' || root === '') return p;
  const r = canonicalRoot(root);
  if (p === r) return '/';
  return p.startsWith(r + '/') ? p.slice(r.length) : undefined;
}

/** g_path_get_basename() for the paths used here: the last non-empty component ("/" for "/"). */
export function basename(p: string): string {
  let end = p.length;
  while (end > 1 && p[end - 1] === '/') end--;
  const trimmed = p.slice(0, end);
  if (trimmed === '/') return '/';
  const at = trimmed.lastIndexOf('/');
  return at < 0 ? trimmed : trimmed.slice(at + 1);
}
