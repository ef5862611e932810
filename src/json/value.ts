// The JSON value model shared by the whole agent.
// Integers are bigint (exact int64/uint64, never rounded); doubles are number.
// Parsed objects are Maps so member order and integer-like names survive untouched.

export type JsonObject = Map<string, JsonValue>;
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | JsonObject;

/** What the serializer accepts: parsed values plus plain objects built by handlers. */
export type OutValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | readonly OutValue[]
  | ReadonlyMap<string, OutValue>
  | { readonly [member: string]: OutValue | undefined };
