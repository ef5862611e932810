#!/usr/bin/env bash
# capture-fixtures.sh - copy what the read-only information commands read into a fixture tree, so the
# commands can run against it with the agent root pointed there (AgentContext.root).
#
#   capture-fixtures.sh OUTDIR
#
# Captured (symlinks are copied as symlinks, with their relative targets):
#   proc/self/{mountinfo,mounts} proc/{diskstats,stat} proc/net/{dev,route,ipv6_route}
#   sys/block/*  sys/dev/block/*                         the links
#   sys/devices/... of every block device (and partition): uevent, size, dev, removable, ro, the
#       subsystem link, slaves/ and holders/ links, dm/{name,uuid}, empty stand-ins for its other
#       subdirectories; and for every ancestor up to /sys/devices: uevent, the driver and subsystem
#       links, and empty stand-ins for its ata*/host* subdirectories (the IDE/SATA host numbering)
#   sys/devices/system/cpu       top-level files, cpu*/online, empty stand-ins for the other entries
#   sys/devices/system/memory    top-level files, memory*/{state,removable,phys_index}
#   run/udev/data/b*             the udev database of block devices
#   var/run/utmp                 as a regular file (on most systems /var/run is a link to /run)
#   nvme-smart/<disk>.bin        the raw SMART / Health log page of every NVMe disk (the admin ioctl
#                                qemu-ga sends), for tests that cannot open the device
#   statvfs.json                 f_frsize, f_blocks, f_bfree, f_bavail of every mount point of
#                                proc/self/mountinfo whose statvfs() answers within 2 s
#   .manifest                    every captured path, directory by directory in the ORIGINAL readdir
#                                order: "d PATH", "f PATH" or "l PATH TARGET" (tab-separated). Git keeps
#                                neither empty directories nor readdir order; test/support/sysroot.ts
#                                rebuilds the tree from it (on tmpfs, in that order).
set -euo pipefail

out=${1:?usage: capture-fixtures.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

copy_file() { # copy_file ABS -> $out/ABS (regular copy; silently skips unreadable files)
  local src=$1 dst=$out$1
  [ -e "$src" ] || return 0
  mkdir -p "$(dirname "$dst")"
  cat "$src" > "$dst" 2>/dev/null || rm -f "$dst"
}

copy_link() { # copy_link ABS -> symlink with the same (relative) target
  local src=$1 dst=$out$1
  [ -L "$src" ] || return 0
  mkdir -p "$(dirname "$dst")"
  ln -sfn "$(readlink "$src")" "$dst"
}

# ---------------------------------------------------------------- /proc
for f in /proc/self/mountinfo /proc/self/mounts /proc/diskstats /proc/stat \
         /proc/net/dev /proc/net/route /proc/net/ipv6_route; do
  copy_file "$f"
done

# ---------------------------------------------------------------- block devices
for l in /sys/block/* /sys/dev/block/*; do copy_link "$l"; done

declare -A done_dirs=()

capture_ancestors() { # capture_ancestors DIR: uevent, driver/subsystem links, ata*/host* stand-ins
  local d=$1
  while [ "$d" != /sys/devices ] && [ "$d" != / ] && [ -n "$d" ]; do
    if [ -z "${done_dirs[$d]:-}" ]; then
      done_dirs[$d]=1
      mkdir -p "$out$d"
      copy_file "$d/uevent"
      copy_link "$d/driver"
      copy_link "$d/subsystem"
      local e
      for e in "$d"/ata[0-9]* "$d"/host[0-9]*; do
        [ -d "$e" ] && [ ! -L "$e" ] && mkdir -p "$out$e"
      done
    fi
    d=$(dirname "$d")
  done
}

for l in /sys/class/block/*; do
  dev=$(readlink -f "$l")
  mkdir -p "$out$dev"
  for f in uevent size dev removable ro dm/name dm/uuid; do copy_file "$dev/$f"; done
  copy_link "$dev/subsystem"
  for sub in slaves holders; do
    if [ -d "$dev/$sub" ]; then
      mkdir -p "$out$dev/$sub"
      for s in "$dev/$sub"/*; do copy_link "$s"; done
    fi
  done
  for e in "$dev"/*; do
    [ -d "$e" ] && [ ! -L "$e" ] && mkdir -p "$out$e"
  done
  capture_ancestors "$(dirname "$dev")"
done

# ---------------------------------------------------------------- cpus and memory blocks
cpu=/sys/devices/system/cpu
if [ -d "$cpu" ]; then
  mkdir -p "$out$cpu"
  for e in "$cpu"/*; do
    if [ -d "$e" ]; then
      mkdir -p "$out$e"
      case ${e##*/} in cpu[0-9]*) copy_file "$e/online" ;; esac
    elif [ -f "$e" ]; then
      copy_file "$e"
    fi
  done
fi

mem=/sys/devices/system/memory
if [ -d "$mem" ]; then
  mkdir -p "$out$mem"
  for e in "$mem"/*; do
    if [ -d "$e" ]; then
      mkdir -p "$out$e"
      for f in state removable phys_index; do copy_file "$e/$f"; done
    elif [ -f "$e" ] && [ "${e##*/}" != probe ] && [ "${e##*/}" != soft_offline_page ] && [ "${e##*/}" != hard_offline_page ]; then
      copy_file "$e"
    fi
  done
fi

# ---------------------------------------------------------------- udev database, utmp
if [ -d /run/udev/data ]; then
  for f in /run/udev/data/b*; do copy_file "$f"; done
fi
if [ -f /var/run/utmp ]; then
  mkdir -p "$out/var/run"
  cat /var/run/utmp > "$out/var/run/utmp"
fi

# ---------------------------------------------------------------- NVMe SMART log pages
python3 - "$out/nvme-smart" <<'PYEOF'
import ctypes, fcntl, glob, os, struct, sys
out = sys.argv[1]
for blk in sorted(glob.glob('/sys/block/nvme*')):
    name = os.path.basename(blk)
    try:
        fd = os.open('/dev/' + name, os.O_RDONLY)
    except OSError:
        continue
    log = ctypes.create_string_buffer(512)
    # struct nvme_passthru_cmd: GET LOG PAGE (02h), broadcast nsid, SMART log (02h), RAE, 128 dwords
    cmd = bytearray(72)
    struct.pack_into('<BxxxI', cmd, 0, 0x02, 0xffffffff)
    struct.pack_into('<Q', cmd, 24, ctypes.addressof(log))
    struct.pack_into('<II', cmd, 36, 512, 0x02 | (1 << 15) | (127 << 16))
    try:
        fcntl.ioctl(fd, 0xC0484E41, cmd, True)
        os.makedirs(out, exist_ok=True)
        open(os.path.join(out, name + '.bin'), 'wb').write(log.raw)
    except OSError:
        pass
    os.close(fd)
PYEOF

# ---------------------------------------------------------------- statvfs of the mount points
python3 - "$out/statvfs.json" <<'PYEOF'
import json, os, sys, threading
def unescape(s):
    out, i = bytearray(), 0
    b = s.encode('latin1')
    while i < len(b):
        if b[i:i+1] == b'\\' and b[i+1:i+2] == b'\\':
            out += b'\\'; i += 2
        elif b[i:i+1] == b'\\' and len(b) >= i + 4 and b[i+1] in b'0123' and b[i+2] in b'01234567' and b[i+3] in b'01234567':
            out.append(int(b[i+1:i+4], 8)); i += 4
        else:
            out.append(b[i]); i += 1
    return bytes(out)
result = {}
with open('/proc/self/mountinfo', encoding='latin1') as f:
    for line in f:
        point = unescape(line.split(' ')[4])
        box = {}
        def run():
            try:
                box['v'] = os.statvfs(point)
            except OSError:
                pass
        t = threading.Thread(target=run, daemon=True); t.start(); t.join(2)
        v = box.get('v')
        if v is not None:
            result[point.decode('utf8', 'replace')] = {'frsize': v.f_frsize, 'blocks': v.f_blocks, 'bfree': v.f_bfree, 'bavail': v.f_bavail}
json.dump(result, open(sys.argv[1], 'w'), indent=1, sort_keys=True)
PYEOF

# ---------------------------------------------------------------- manifest (original readdir order)
python3 - "$out" <<'PYEOF'
import os, sys
out = sys.argv[1]
lines = []
def walk(rel):
    copy = os.path.join(out, rel) if rel else out
    present = set(os.listdir(copy))
    order = []
    try:
        with os.scandir('/' + rel) as it:        # the original directory, in its readdir order
            order = [e.name for e in it if e.name in present]
    except OSError:
        pass
    order += sorted(present - set(order))
    for name in order:
        if not rel and (name in ('.manifest', 'statvfs.json', 'nvme-smart') or name.startswith('expected')):
            continue
        r = f'{rel}/{name}' if rel else name
        full = os.path.join(out, r)
        if os.path.islink(full):
            lines.append(f'l\t{r}\t{os.readlink(full)}')
        elif os.path.isdir(full):
            lines.append(f'd\t{r}')
            walk(r)
        else:
            lines.append(f'f\t{r}')
walk('')
open(os.path.join(out, '.manifest'), 'w').write('\n'.join(lines) + '\n')
PYEOF

echo "captured into $out" >&2
