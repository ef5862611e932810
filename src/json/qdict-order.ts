// Member order of qemu-ga's objects (docs/protocol.md §Output format).
//
// qemu-ga objects are hash tables of 512 buckets, and they are printed (and the request
// envelope is examined) bucket by bucket, in ascending order. A bucket is a list with the
// most recently inserted member at its head. So the order is: ascending bucket, and within a
// bucket, later insertions first. Only the relative order of the members that are present
// matters, so an order computed over all possible members can be filtered afterwards.

import { encodeModUtf8 } from './utf8.ts';

export const QDICT_BUCKETS = 512;

/** The 32-bit hash qemu-ga applies to a member name (its modified-UTF-8 bytes). */
export function qdictHash(key: string): number {
  let ascii = true;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0 || c >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    let v = Math.imul(0x238f13af, key.length);
    for (let i = 0; i < key.length; i++) v = (v + (key.charCodeAt(i) << ((i * 5) % 24))) | 0;
    return (Math.imul(1103515243, v) + 12345) >>> 0;
  }
  const bytes = encodeModUtf8(key);
  let v = Math.imul(0x238f13af, bytes.length);
  for (let i = 0; i < bytes.length; i++) v = (v + (bytes[i] << ((i * 5) % 24))) | 0;
  return (Math.imul(1103515243, v) + 12345) >>> 0;
}

/** The bucket (0..511) of a member name. */
export function qdictBucket(key: string): number {
  return qdictHash(key) % QDICT_BUCKETS;
}

/** Uncached: the output order of `keys` (given in insertion order), as indexes into `keys`. */
export function computeQdictOrder(keys: readonly string[]): number[] {
  const n = keys.length;
  const buckets = new Array<number>(n);
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    buckets[i] = qdictBucket(keys[i]);
    order[i] = i;
  }
  order.sort((a, b) => buckets[a] - buckets[b] || b - a);
  return order;
}

// Cache: a trie over key sequences. Handlers return objects of a few shapes millions of
// times; request objects (an echoed `id`) can have any keys, so the cache is bounded.
interface Node {
  next: Map<string, Node> | null;
  order: readonly number[] | null;
}
const MAX_NODES = 20000;
let nodeCount = 0;
const root: Node = { next: null, order: [] };

/**
 * The output order of an object's members, given its keys in insertion order: indexes into
 * `keys`, ascending bucket, later insertions first within a bucket. Cached per key sequence.
 * The returned array must not be modified.
 */
export function qdictOrder(keys: readonly string[]): readonly number[] {
  let node = root;
  for (let i = 0; i < keys.length; i++) {
    let child = node.next === null ? undefined : node.next.get(keys[i]);
    if (child === undefined) {
      if (nodeCount >= MAX_NODES) return computeQdictOrder(keys);
      if (node.next === null) node.next = new Map();
      child = { next: null, order: null };
      node.next.set(keys[i], child);
      nodeCount++;
    }
    node = child;
  }
  if (node.order === null) node.order = computeQdictOrder(keys);
  return node.order;
}

/** Convenience: the keys themselves in output order. */
export function qdictOrderedKeys(keys: readonly string[]): string[] {
  return qdictOrder(keys).map((i) => keys[i]);
}
