// guest-ssh-*-authorized-keys on a temporary home with an injected passwd lookup (no real user): the
// probe sequence with qemu-ga 7.2's recorded files and replies, modes and ownership, and the symlink
// defences.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildFilename, guestSshAddAuthorizedKeys, guestSshGetAuthorizedKeys, guestSshRemoveAuthorizedKeys } from '../../src/commands/ssh.ts';
import { errorOf, fakeContext } from '../support/handler-context.ts';
import { sysContext, type SysContext, cleanupsAfterEach } from '../support/sysctl.ts';
import { toJson } from '../../src/json/serialize.ts';
import { refuseNewSshDir } from '../../src/commands/ssh-trust.ts';
import { currentFsIds } from '../../src/platform/linux/fsid.ts';

const K1 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFJzBq5u0Wmlj1nTHg9QnKwVrTxpv7LJx3m0hG8nZ9qB probe1@qga';
const K2 = 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7vbqajDhA4Qk5n1Pd9t2X8yqYq9mZKfN0c3Wg8xmQ probe2@qga';
const K3 = 'ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBK3f probe3@qga';
const U = 'qgaprobe';

// Running as root: the files must end up owned by the user, not by the agent.
const AS_ROOT = process.getuid?.() === 0;
const UID = AS_ROOT ? 4242 : (process.getuid?.() ?? 0);
const GID = AS_ROOT ? 4343 : (process.getgid?.() ?? 0);

const cleanups = cleanupsAfterEach();

/** Gives fixture paths to the user (as root): the commands reach them as the user would. */
function own(...paths: string[]): void {
  if (AS_ROOT) for (const p of paths) fs.lchownSync(p, UID, GID);
}

function setup(): { ctx: SysContext; home: string; ak: string } {
  const base = fs.mkdtempSync(path.join(os.tmpdir(), 'qga-ssh-'));
  const home = path.join(base, 'home', U);
  fs.mkdirSync(home, { recursive: true });
  if (AS_ROOT) {
    // As on a real system: the user may reach their home and owns it (the commands act as the user).
    fs.chmodSync(base, 0o755);
    fs.chownSync(home, UID, GID);
  }
  const ctx = sysContext();
  ctx.users.set(U, { name: U, uid: UID, gid: GID, dir: home });
  cleanups.push(() => fs.rmSync(base, { recursive: true, force: true }), ctx.cleanup);
  return { ctx, home, ak: path.join(home, '.ssh', 'authorized_keys') };
}

const b64 = (p: string) => fs.readFileSync(p).toString('base64');

describe('ssh authorized keys: the probe sequence (qemu-ga 7.2 reference)', () => {
  it('matches every reply and every recorded file', async () => {
    const { ctx, home, ak } = setup();
    const get = () => guestSshGetAuthorizedKeys({ username: U }, ctx);
    const add = (keys: string[], reset?: boolean) => guestSshAddAuthorizedKeys({ username: U, keys, reset }, ctx);
    const remove = (keys: string[]) => guestSshRemoveAuthorizedKeys({ username: U, keys }, ctx);

    assert.equal(
      await errorOf(get),
      `failed to read '${ak}': Failed to open file \u201C${ak}\u201D: No such file or directory`,
    );
    assert.deepEqual(add([K1, K2]), {});
    assert.equal(
      b64(ak),
      'c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUZKekJxNXUwV21sajFuVEhnOVFuS3dWclR4cHY3TEp4M20waEc4blo5cUIgcHJvYmUxQHFnYQpzc2gtcnNhIEFBQUFCM056YUMxeWMyRUFBQUFEQVFBQkFBQUFnUUM3dmJxYWpEaEE0UWs1bjFQZDl0Mlg4eXFZcTltWktmTjBjM1dnOHhtUSBwcm9iZTJAcWdh',
    );
    const sshSt = fs.statSync(path.join(home, '.ssh'));
    assert.equal(sshSt.mode & 0o7777, 0o700);
    assert.equal(fs.statSync(ak).mode & 0o7777, 0o600);
    assert.deepEqual([sshSt.uid, sshSt.gid], [UID, GID]);
    assert.deepEqual([fs.statSync(ak).uid, fs.statSync(ak).gid], [UID, GID]);
    assert.deepEqual(get(), { keys: [K2, K1] });
    add([K2, K3]);
    assert.equal(fs.readFileSync(ak, 'utf8'), `${K1}\n${K2}\n${K3}`);
    remove([K1]);
    remove(['ssh-ed25519 AAAA absent']);
    assert.deepEqual(get(), { keys: [K3, K2] });
    add([K1], true);
    assert.deepEqual(get(), { keys: [K1] });
    assert.equal(fs.readFileSync(ak, 'utf8'), K1);
    fs.writeFileSync(ak, `# a comment\n\n  \n${K3}\n${K1}   \n#${K2}\n`);
    assert.deepEqual(get(), { keys: [K1, K3] });
    remove([K3]);
    const handwritten =
      'IyBhIGNvbW1lbnQKCiAgCnNzaC1lZDI1NTE5IEFBQUFDM056YUMxbFpESTFOVEU1QUFBQUlGSnpCcTV1MFdtbGoxblRIZzlRbkt3VnJUeHB2N0xKeDNtMGhHOG5aOXFCIHByb2JlMUBxZ2EgICAKI3NzaC1yc2EgQUFBQUIzTnphQzF5YzJFQUFBQURBUUFCQUFBQWdRQzd2YnFhakRoQTRRazVuMVBkOXQyWDh5cVlxOW1aS2ZOMGMzV2c4eG1RIHByb2JlMkBxZ2EK';
    assert.equal(b64(ak), handwritten);
    assert.equal(await errorOf(() => add(['#comment key'])), "invalid OpenSSH public key: '#comment key'");
    assert.equal(await errorOf(() => add([`${K2}\n${K3}`])), `invalid OpenSSH public key: '${K2}\n${K3}'`);
    // "" is a valid key; the file's trailing LF already gives it an empty line, so nothing changes.
    add(['']);
    add([]);
    assert.equal(b64(ak), handwritten);
    assert.equal(await errorOf(() => guestSshGetAuthorizedKeys({ username: 'qga-probe-no-such-user' }, ctx)), "failed to lookup user 'qga-probe-no-such-user': Success");
    assert.equal(
      await errorOf(() => guestSshAddAuthorizedKeys({ username: 'qga-probe-no-such-user', keys: [K1] }, ctx)),
      "failed to lookup user 'qga-probe-no-such-user': Success",
    );
    assert.deepEqual(fs.readdirSync(path.join(home, '.ssh')), ['authorized_keys'], 'no temporary file left behind');
  });
});

describe('ssh authorized keys: file format rules', () => {
  it('keys are checked before the user is looked up; the lookup errno text', async () => {
    const { ctx } = setup();
    assert.equal(await errorOf(() => guestSshRemoveAuthorizedKeys({ username: 'nobody-here', keys: ['#x'] }, ctx)), "invalid OpenSSH public key: '#x'");
    const sys = ctx.sys as { getpwnam: unknown };
    sys.getpwnam = () => ({ errno: 5 });
    assert.equal(await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)), "failed to lookup user 'qgaprobe': Input/output error");
  });

  it('an existing file ending in LF gets an empty line before appended keys; reset with no keys empties it', () => {
    const { ctx, home, ak } = setup();
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    fs.writeFileSync(ak, 'a\n');
    own(path.join(home, '.ssh'), ak);
    guestSshAddAuthorizedKeys({ username: U, keys: ['b', 'b'] }, ctx);
    assert.equal(fs.readFileSync(ak, 'utf8'), 'a\n\nb');
    guestSshAddAuthorizedKeys({ username: U, keys: [], reset: true }, ctx);
    assert.equal(fs.readFileSync(ak, 'utf8'), '');
    assert.deepEqual(guestSshGetAuthorizedKeys({ username: U }, ctx), { keys: [] });
  });

  it('remove without a file (or without .ssh, or without a home) succeeds and creates nothing', () => {
    const { ctx, home } = setup();
    assert.deepEqual(guestSshRemoveAuthorizedKeys({ username: U, keys: [K1] }, ctx), {});
    assert.equal(fs.existsSync(path.join(home, '.ssh')), false);
    ctx.users.set('ghost', { name: 'ghost', uid: UID, gid: GID, dir: path.join(home, 'missing') });
    assert.deepEqual(guestSshRemoveAuthorizedKeys({ username: 'ghost', keys: [K1] }, ctx), {});
  });

  it('a home that does not exist: add fails as mkdir would', async () => {
    const { ctx, home } = setup();
    ctx.users.set('ghost', { name: 'ghost', uid: UID, gid: GID, dir: path.join(home, 'missing') });
    assert.equal(
      await errorOf(() => guestSshAddAuthorizedKeys({ username: 'ghost', keys: [K1] }, ctx)),
      `failed to create directory '${path.join(home, 'missing', '.ssh')}': No such file or directory`,
    );
  });

  it('content ends at a NUL byte (C string); invalid UTF-8 survives a rewrite byte for byte', () => {
    const { ctx, home, ak } = setup();
    fs.mkdirSync(path.join(home, '.ssh'));
    fs.writeFileSync(ak, Buffer.from([0x6b, 0x31, 0xff, 0x0a, 0x6b, 0x32, 0x0a, 0x00, 0x6b, 0x33]));
    own(path.join(home, '.ssh'), ak);
    assert.deepEqual(guestSshGetAuthorizedKeys({ username: U }, ctx), { keys: ['k2', 'k1\uFFFD'] });
    guestSshAddAuthorizedKeys({ username: U, keys: ['k4'] }, ctx);
    assert.deepEqual([...fs.readFileSync(ak)], [0x6b, 0x31, 0xff, 0x0a, 0x6b, 0x32, 0x0a, 0x0a, 0x6b, 0x34]);
  });

  it('whitespace per GLib (space \\t \\n \\f \\r, not \\v) is stripped on get', () => {
    const { ctx, home, ak } = setup();
    fs.mkdirSync(path.join(home, '.ssh'));
    fs.writeFileSync(ak, ' \t\f k1 \r\n\vk2\v\n  # c\n');
    assert.deepEqual(guestSshGetAuthorizedKeys({ username: U }, ctx), { keys: ['\vk2\v', 'k1'] });
  });

  it('g_build_filename joins', () => {
    assert.equal(buildFilename('/home/u/', '.ssh', 'authorized_keys'), '/home/u/.ssh/authorized_keys');
    assert.equal(buildFilename('/', '.ssh'), '/.ssh');
    assert.equal(buildFilename('', '.ssh', 'authorized_keys'), '.ssh/authorized_keys');
  });
});

describe('ssh authorized keys: no symbolic link is followed', () => {
  it('authorized_keys as a symlink: get refuses it, add replaces the link itself, the target is untouched', async () => {
    const { ctx, home, ak } = setup();
    const victim = path.join(home, '..', 'victim');
    fs.writeFileSync(victim, 'precious\n');
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    own(path.join(home, '.ssh'));
    fs.symlinkSync(victim, ak);
    assert.equal(
      await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)),
      `failed to read '${ak}': Failed to open file \u201C${ak}\u201D: Too many levels of symbolic links`,
    );
    assert.equal(
      await errorOf(() => guestSshRemoveAuthorizedKeys({ username: U, keys: [K1] }, ctx)),
      `failed to read '${ak}': Failed to open file \u201C${ak}\u201D: Too many levels of symbolic links`,
    );
    guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx);
    assert.equal(fs.lstatSync(ak).isFile(), true, 'the link was replaced by a regular file');
    assert.equal(fs.readFileSync(ak, 'utf8'), K1);
    assert.equal(fs.readFileSync(victim, 'utf8'), 'precious\n');
    const st = fs.statSync(victim);
    assert.notEqual(st.uid === UID && AS_ROOT, true, 'the target was not chowned');
  });

  it('.ssh as a symlink to another directory: add fails (File exists), nothing is written there', async () => {
    const { ctx, home } = setup();
    const elsewhere = path.join(home, '..', 'elsewhere');
    fs.mkdirSync(elsewhere);
    fs.writeFileSync(path.join(elsewhere, 'authorized_keys'), 'x\n');
    fs.symlinkSync(elsewhere, path.join(home, '.ssh'));
    assert.equal(
      await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx)),
      `failed to create directory '${path.join(home, '.ssh')}': File exists`,
    );
    assert.equal(
      await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1], reset: true }, ctx)),
      `failed to create directory '${path.join(home, '.ssh')}': File exists`,
    );
    assert.deepEqual(fs.readdirSync(elsewhere), ['authorized_keys']);
    assert.equal(fs.readFileSync(path.join(elsewhere, 'authorized_keys'), 'utf8'), 'x\n');
    assert.match(await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)), /Too many levels of symbolic links|Not a directory/);
  });

  it('a FIFO in place of the file does not hang the agent', async () => {
    const { ctx, home, ak } = setup();
    fs.mkdirSync(path.join(home, '.ssh'));
    const { spawnSync } = await import('node:child_process');
    if (spawnSync('mkfifo', [ak]).status !== 0) return;
    assert.equal(
      await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)),
      `failed to read '${ak}': Failed to read from file \u201C${ak}\u201D: Invalid argument`,
    );
  });

  it('without system services: unsupported', async () => {
    assert.equal(await errorOf(() => guestSshGetAuthorizedKeys({ username: 'root' }, fakeContext())), 'this feature or command is not currently supported');
  });
});

// The user controls the file: its size must not decide whether the agent answers (the bound: 3 s).
describe('ssh authorized keys: time linear in the size of the file', () => {
  const LINES = 160_000;
  const keyOf = (i: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${String(i).padStart(8, '0')}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx user${i}@host`;

  it('a 160 k-line authorized_keys: get answers (reply serialized) within 3 s, in reverse file order', () => {
    const { ctx, home, ak } = setup();
    fs.mkdirSync(path.join(home, '.ssh'));
    const lines: string[] = [];
    for (let i = 0; i < LINES; i++) lines.push(i % 10 === 0 ? `# comment ${i}` : `  ${keyOf(i)}\t`);
    fs.writeFileSync(ak, lines.join('\n') + '\n');
    const t0 = process.hrtime.bigint();
    const reply = toJson({ return: guestSshGetAuthorizedKeys({ username: U }, ctx) });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms <= 3000, `took ${ms.toFixed(0)} ms`);
    const keys = (JSON.parse(reply) as { return: { keys: string[] } }).return.keys;
    assert.equal(keys.length, LINES - LINES / 10);
    assert.equal(keys[0], keyOf(LINES - 1));
    assert.equal(keys[keys.length - 1], keyOf(1));
    assert.equal(keys[1], keyOf(LINES - 2));
  });

  it('a line with a 4 MiB run of inner whitespace is stripped in linear time', () => {
    const { ctx, home, ak } = setup();
    fs.mkdirSync(path.join(home, '.ssh'));
    fs.writeFileSync(ak, `k1\n a${' '.repeat(4 << 20)}b \nk2`);
    const t0 = process.hrtime.bigint();
    const { keys } = guestSshGetAuthorizedKeys({ username: U }, ctx);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms <= 3000, `took ${ms.toFixed(0)} ms`);
    assert.deepEqual(keys.map((k) => k.length), [2, (4 << 20) + 2, 2]);
  });

  it('add of 20 k keys to a 160 k-line file within 3 s, duplicates (in the file and the request) dropped', () => {
    const { ctx, home, ak } = setup();
    fs.mkdirSync(path.join(home, '.ssh'));
    const lines: string[] = [];
    for (let i = 0; i < LINES; i++) lines.push(keyOf(i));
    fs.writeFileSync(ak, lines.join('\n'));
    own(path.join(home, '.ssh'), ak);
    const keys: string[] = [];
    for (let i = 0; i < 20_000; i++) keys.push(keyOf(LINES - 10_000 + i));
    keys.push(keyOf(LINES + 1));
    const t0 = process.hrtime.bigint();
    guestSshAddAuthorizedKeys({ username: U, keys }, ctx);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms <= 3000, `took ${ms.toFixed(0)} ms`);
    const out = fs.readFileSync(ak, 'utf8').split('\n');
    assert.equal(out.length, LINES + 10_000);
    assert.equal(out[LINES], keyOf(LINES));
    assert.equal(out[out.length - 1], keyOf(LINES + 9_999));
  });
});

// qemu-ga 11.1 reads and writes as the user (initgroups, setegid, seteuid): what the user could not
// reach alone fails there. qga-ts, as root, refuses the same files by their owner and link count.
describe('ssh authorized keys: only what the user could reach alone', { skip: AS_ROOT ? false : 'needs root to chown fixtures' }, () => {
  const OTHER = 4244;
  const refusedBy = async (ak: string, ctx: SysContext, why: string): Promise<void> => {
    const want = `failed to read '${ak}': ${why}`;
    assert.equal(await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)), want);
    assert.equal(await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx)), want);
    assert.equal(await errorOf(() => guestSshRemoveAuthorizedKeys({ username: U, keys: [K1] }, ctx)), want);
  };
  const userSsh = (home: string): string => {
    const ssh = path.join(home, '.ssh');
    fs.mkdirSync(ssh, { mode: 0o700 });
    fs.chownSync(ssh, UID, GID);
    return ssh;
  };
  it('a hard link to a root-only file: the user may not open it; add replaces the link; the file is neither copied nor changed', async () => {
    const { ctx, home, ak } = setup();
    const ssh = userSsh(home);
    const secret = path.join(home, '..', 'shadow-like');
    fs.writeFileSync(secret, 'root:$6$secret-hash:19000::::::\n', { mode: 0o600 });
    fs.linkSync(secret, ak);
    const denied = `failed to read '${ak}': Failed to open file \u201C${ak}\u201D: Permission denied`;
    assert.equal(await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)), denied);
    assert.equal(await errorOf(() => guestSshRemoveAuthorizedKeys({ username: U, keys: [K1] }, ctx)), denied);
    assert.equal(fs.statSync(ak).ino, fs.statSync(secret).ino, 'the link is still there, untouched');
    // Unreadable is absent for add (qemu-ga 11.1 does the same as the user): a new file of the user's takes the name.
    guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx);
    assert.equal(fs.readFileSync(ak, 'utf8'), K1);
    assert.deepEqual([fs.statSync(ak).uid, fs.statSync(ak).nlink], [UID, 1]);
    assert.equal(fs.readFileSync(secret, 'utf8'), 'root:$6$secret-hash:19000::::::\n');
    assert.deepEqual([fs.statSync(secret).uid, fs.statSync(secret).mode & 0o7777], [0, 0o600]);
    assert.deepEqual(fs.readdirSync(ssh), ['authorized_keys'], 'no copy, no temporary file left behind');
  });

  it("a hard link to the user's own file is refused too (the rule is the link count)", async () => {
    const { ctx, home, ak } = setup();
    userSsh(home);
    fs.writeFileSync(ak, `${K1}\n`);
    fs.chownSync(ak, UID, GID);
    fs.linkSync(ak, path.join(home, 'keys.bak'));
    await refusedBy(ak, ctx, `Refusing file \u201C${ak}\u201D: it has 2 hard links`);
    fs.unlinkSync(path.join(home, 'keys.bak'));
    assert.deepEqual(guestSshGetAuthorizedKeys({ username: U }, ctx), { keys: [K1] });
  });

  it("another account's file (one link) is refused; reset, which reads nothing, replaces it with the user's", async () => {
    const { ctx, home, ak } = setup();
    userSsh(home);
    fs.writeFileSync(ak, `${K2}\n`, { mode: 0o644 });
    fs.chownSync(ak, OTHER, OTHER);
    await refusedBy(ak, ctx, `Refusing file \u201C${ak}\u201D: it belongs to uid ${OTHER}, not to '${U}' (uid ${UID})`);
    guestSshAddAuthorizedKeys({ username: U, keys: [K1], reset: true }, ctx);
    const st = fs.statSync(ak);
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777, st.nlink], [UID, GID, 0o600, 1]);
    assert.equal(fs.readFileSync(ak, 'utf8'), K1);
  });

  it("root's file: unreadable unless anyone may read it (sshd's StrictModes accepts root's files)", async () => {
    const { ctx, home, ak } = setup();
    userSsh(home);
    fs.writeFileSync(ak, `${K2}\n`, { mode: 0o600 });
    assert.equal(
      await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)),
      `failed to read '${ak}': Failed to open file \u201C${ak}\u201D: Permission denied`,
    );
    assert.equal(fs.readFileSync(ak, 'utf8'), `${K2}\n`);
    fs.chmodSync(ak, 0o644);
    assert.deepEqual(guestSshGetAuthorizedKeys({ username: U }, ctx), { keys: [K2] });
    guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx);
    const st = fs.statSync(ak);
    assert.deepEqual([st.uid, st.mode & 0o7777], [UID, 0o600], 'rewritten as the user\'s own file');
  });

  it("a .ssh of another account: refused (add with reset too), nothing written in it", async () => {
    const { ctx, home, ak } = setup();
    const ssh = path.join(home, '.ssh');
    fs.mkdirSync(ssh, { mode: 0o755 });
    fs.writeFileSync(ak, `${K2}\n`, { mode: 0o644 });
    fs.chownSync(ak, UID, GID);
    fs.chownSync(ssh, OTHER, OTHER);
    const why = `Refusing directory \u201C${ssh}\u201D: it belongs to uid ${OTHER}, not to '${U}' (uid ${UID}) or root`;
    await refusedBy(ak, ctx, why);
    assert.equal(await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1], reset: true }, ctx)), `failed to write to '${ak}': ${why}`);
    assert.deepEqual(fs.readdirSync(ssh), ['authorized_keys']);
    assert.equal(fs.readFileSync(ak, 'utf8'), `${K2}\n`);
    assert.equal(fs.statSync(ssh).uid, OTHER, 'not chowned to the user');
  });

  // CVE-2026-12080 (fixed in qemu-ga 11.1.2 by acting as the user): a path the user controls leads
  // elsewhere. Here the user owns the parent of their home and swaps the home for a link to a root-only
  // home whose world-readable authorized_keys the agent, as root, would read and rewrite as the user's.
  it("a home swapped for a link to a root-only directory: nothing there is read or written", async () => {
    const { ctx, home, ak } = setup();
    const parent = path.dirname(home);
    fs.chownSync(parent, UID, GID);
    const rootHome = path.join(parent, '..', 'roothome');
    fs.mkdirSync(path.join(rootHome, '.ssh'), { recursive: true, mode: 0o700 });
    fs.chmodSync(rootHome, 0o700);
    const rootKeys = path.join(rootHome, '.ssh', 'authorized_keys');
    fs.writeFileSync(rootKeys, `${K2}\n`, { mode: 0o644 });
    fs.rmSync(home, { recursive: true });
    fs.symlinkSync(rootHome, home);
    const denied = `failed to read '${ak}': Failed to open file \u201C${ak}\u201D: Permission denied`;
    assert.equal(await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)), denied);
    assert.equal(await errorOf(() => guestSshRemoveAuthorizedKeys({ username: U, keys: [K2] }, ctx)), denied);
    for (const reset of [false, true]) {
      assert.equal(
        await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1], reset }, ctx)),
        `failed to create directory '${path.join(home, '.ssh')}': Permission denied`,
      );
    }
    const st = fs.statSync(rootKeys);
    assert.deepEqual([fs.readFileSync(rootKeys, 'utf8'), st.uid, st.mode & 0o7777], [`${K2}\n`, 0, 0o644]);
    assert.deepEqual(fs.readdirSync(path.join(rootHome, '.ssh')), ['authorized_keys']);
  });

  it("a root-owned .ssh in the user's home is read as the user may, and not written into", async () => {
    const { ctx, home, ak } = setup();
    const ssh = path.join(home, '.ssh');
    fs.mkdirSync(ssh, { mode: 0o755 });
    fs.writeFileSync(ak, `${K2}\n`, { mode: 0o644 });
    assert.deepEqual(guestSshGetAuthorizedKeys({ username: U }, ctx), { keys: [K2] });
    assert.match(
      await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx)),
      new RegExp(`^failed to write to '${ak}': Failed to create file \u201C${ak}\\.[A-Za-z0-9]{6}\u201D: Permission denied$`),
    );
    assert.deepEqual([fs.readFileSync(ak, 'utf8'), fs.statSync(ak).uid], [`${K2}\n`, 0]);
  });

  it("the agent's own file-system identity is back after each command, failed ones included", async () => {
    const before = currentFsIds();
    assert.deepEqual([before.uid, before.gid], [0, process.getgid?.()]);
    const { ctx, home } = setup();
    userSsh(home);
    guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx);
    assert.deepEqual(currentFsIds(), before);
    await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1], reset: true }, { ...ctx, sys: { ...ctx.sys, getpwnam: () => ({ name: U, uid: UID, gid: GID, dir: path.join(home, 'no', 'such') }) } } as never));
    assert.deepEqual(currentFsIds(), before);
    // What the user creates is theirs from the start, not root's until a chown.
    const st = fs.statSync(path.join(home, '.ssh', 'authorized_keys'));
    assert.deepEqual([st.uid, st.gid], [UID, GID]);
  });

  it('a directory in place of the file: get fails to read it, add fails to rename over it (as qemu-ga), nothing lost', async () => {
    const { ctx, home, ak } = setup();
    const ssh = userSsh(home);
    fs.mkdirSync(ak);
    fs.writeFileSync(path.join(ak, 'inside'), 'x');
    assert.equal(await errorOf(() => guestSshGetAuthorizedKeys({ username: U }, ctx)), `failed to read '${ak}': Failed to read from file \u201C${ak}\u201D: Is a directory`);
    assert.match(
      await errorOf(() => guestSshAddAuthorizedKeys({ username: U, keys: [K1] }, ctx)),
      new RegExp(`^failed to write to '${ak}': Failed to rename file \u201C${ak}\\.[A-Za-z0-9]{6}\u201D to \u201C${ak}\u201D: g_rename\\(\\) failed: Is a directory$`),
    );
    assert.deepEqual(fs.readdirSync(ssh), ['authorized_keys'], 'no temporary file left behind');
    assert.deepEqual(fs.readdirSync(ak), ['inside']);
  });
});

// The window between mkdirat(.ssh) and openat(.ssh) cannot be hit on demand from a test: the guard
// that closes it is checked on what a swap could put there.
describe('ssh authorized keys: a .ssh swapped in while add creates it', () => {
  const user = { name: U, uid: 1000, gid: 1000, dir: '/home/u' };
  const dir = (uid: number) => ({ uid, nlink: 2, mode: 0o40700 });
  it('the empty directory the agent (or the user) just made is accepted', () => {
    assert.equal(refuseNewSshDir(dir(0), 0, user, 0, '/home/u/.ssh'), null);
    assert.equal(refuseNewSshDir(dir(1000), 0, user, 0, '/home/u/.ssh'), null);
  });
  it("one with entries (someone's directory moved in), or another account's, is refused", () => {
    assert.equal(refuseNewSshDir(dir(0), 3, user, 0, '/home/u/.ssh'), 'Refusing directory \u201C/home/u/.ssh\u201D: it was replaced while it was being created');
    assert.equal(
      refuseNewSshDir(dir(1001), 0, user, 0, '/home/u/.ssh'),
      "Refusing directory \u201C/home/u/.ssh\u201D: it belongs to uid 1001, not to 'qgaprobe' (uid 1000) or root",
    );
  });
});
