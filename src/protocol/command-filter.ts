// Which commands are enabled: -a allow list, -b block list, and the frozen state (docs/compatibility.md §Agent, 10.2 rules).

/** The only commands qemu-ga runs while filesystems are frozen. */
export const FREEZE_ALLOWLIST: ReadonlySet<string> = new Set([
  'guest-ping',
  'guest-info',
  'guest-sync',
  'guest-sync-delimited',
  'guest-fsfreeze-status',
  'guest-fsfreeze-thaw',
]);

export class CommandFilter {
  frozen = false;
  private readonly allow: ReadonlySet<string> | null;
  private readonly block: ReadonlySet<string>;

  /** allow: null when no -a/allow-rpcs was given at all. */
  constructor(allow: readonly string[] | null, block: readonly string[]) {
    this.allow = allow === null ? null : new Set(allow);
    this.block = new Set(block);
  }

  isEnabled(name: string): boolean {
    // 10.2: the frozen filter overrides -a and -b entirely.
    if (this.frozen) return FREEZE_ALLOWLIST.has(name);
    if (this.allow !== null && !this.allow.has(name)) return false;
    return !this.block.has(name);
  }
}

/**
 * ga_apply_command_filters(): the enabled state of every command before `change`, compared after it;
 * each that changed is logged (`disabling command: <name>` / `enabling command: <name>`), in
 * registration order.
 */
export function logFilterChanges(
  filter: Pick<CommandFilter, 'isEnabled'>,
  names: readonly string[],
  change: () => void,
  debug: (message: string) => void,
): void {
  const before = names.map((n) => filter.isEnabled(n));
  change();
  names.forEach((n, i) => {
    const now = filter.isEnabled(n);
    if (now !== before[i]) debug(`${now ? 'enabling' : 'disabling'} command: ${n}`);
  });
}
