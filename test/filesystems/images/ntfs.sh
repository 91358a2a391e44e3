#!/usr/bin/env bash
# Builds a small NTFS test image with real tools: mkntfs, then populates it through the
# ntfs-3g FUSE driver (needs /dev/fuse and root). Usage: ntfs.sh OUT.img [full|small]
# "small" (8 MiB, fewer and smaller files, same features) is the fuzzing seed.
# NTFS_CLUSTER=512|8192… picks the cluster size (compression needs ≤ 4096; above, files stay plain).
# The content is deterministic (seeded), so a caller may key a cache on this script's hash.
#
# Covers: deep tree, Unicode names (CJK, emoji, combining marks, 255 chars), a directory big
# enough for a multi-node $INDEX_ALLOCATION, a multi-MB file over many clusters, a sparse file,
# LZNT1-compressed files (compressed attribute set on the directory via system.ntfs_attrib_be),
# hard links (incl. one file with enough links to need an $ATTRIBUTE_LIST), alternate data
# streams (user.* xattrs = named $DATA), symlink and junction reparse points (written with
# system.ntfs_reparse_data), an Interix symlink (ntfs-3g's own `ln -s`), empty and resident files.
# Without FUSE, only wimapply could populate (no compression, no crafted reparse points): the
# script then fails with exit code 3 so the test reports it rather than silently testing less.
set -euo pipefail
out=${1:?usage: ntfs.sh OUT.img [SIZE_MB]}
mode=${2:-full}
size=48; [ "$mode" = small ] && size=8
for t in mkntfs ntfs-3g python3; do command -v "$t" >/dev/null || { echo "missing $t (apt-get install ntfs-3g python3)" >&2; exit 2; }; done
[ -c /dev/fuse ] && [ -w /dev/fuse ] || { echo "no usable /dev/fuse" >&2; exit 3; }
rm -f "$out"
truncate -s "${size}M" "$out"
mkntfs -F -f -Q -L stillpoint-test ${NTFS_CLUSTER:+-c "$NTFS_CLUSTER"} "$out" >/dev/null 2>&1
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT
ntfs-3g -o streams_interface=xattr "$out" "$mnt"
python3 - "$mnt" "$mode" <<'PY'
import os, random, struct, sys
root = sys.argv[1]
rnd = random.Random(11)
small = sys.argv[2] == 'small'
k = (lambda full, sm: sm if small else full)
def p(*a): return os.path.join(root, *a)
def write(path, data):
    with open(path, 'wb') as f: f.write(data)
def rp(tag, sub, prn, flags=None):
    s = sub.encode('utf-16le'); n = prn.encode('utf-16le')
    body = struct.pack('<HHHH', 0, len(s), len(s), len(n)) + (struct.pack('<I', flags) if flags is not None else b'') + s + n
    return struct.pack('<IHH', tag, len(body), 0) + body

# deep tree
d = p('deep')
for i in range(k(24, 6)):
    d = os.path.join(d, f'level{i:02d}')
os.makedirs(d)
write(os.path.join(d, 'bottom.txt'), b'the bottom of the tree\n')

# unicode names
u = p('unicode')
os.mkdir(u)
for name in ['日本語のファイル.txt', '中文目录', 'emoji 😀🎉.bin', 'cafe\u0301 combining.txt', 'naïve ÅÄÖ.txt', 'x' * 255]:
    full = os.path.join(u, name)
    if name == '中文目录':
        os.mkdir(full); write(os.path.join(full, '한국어.txt'), 'Korean inside CJK dir\n'.encode())
    else:
        write(full, f'name={name}\n'.encode())

# a directory big enough for several index nodes
many = p('many')
os.mkdir(many)
for i in range(k(120, 40)):
    write(os.path.join(many, f'file-{i:04d}-{"long-name-padding" * 2}.txt'), f'{i}\n'.encode() * (i % 7))

# large file over many clusters, written in pieces interleaved with another file (fragmentation)
big = rnd.randbytes(k(3 * 1024 * 1024 + 777, 200 * 1024 + 777))
with open(p('large.bin'), 'wb') as f, open(p('interleave.bin'), 'wb') as g:
    for off in range(0, len(big), 65536):
        f.write(big[off:off + 65536]); f.flush()
        g.write(bytes([off & 0xff]) * 4096); g.flush()

# sparse: data at 0, 1 MiB and at the end of 9 MiB
with open(p('sparse.bin'), 'wb') as f:
    f.write(b'head' * 1024)
    f.seek(1 << 20); f.write(b'middle' * 2000)
    f.seek(k(9 * (1 << 20), 3 * (1 << 20)) - 5); f.write(b'tail!')

# compressed directory: new files inherit the compressed attribute (LZNT1)
c = p('compressed')
os.mkdir(c)
try:
    os.setxattr(c, 'system.ntfs_attrib_be', (0x10 | 0x800).to_bytes(4, 'big'))
except OSError:
    pass  # clusters > 4 KiB: NTFS cannot compress
text = b''.join(f'line {i}: the quick brown fox jumps over the lazy dog\n'.encode() for i in range(k(20000, 3000)))
write(os.path.join(c, 'text.txt'), text)
mixed = bytearray()
for i in range(k(12, 3)):
    mixed += rnd.randbytes(50000) if i % 3 == 0 else (b'\0' * 70000 if i % 3 == 1 else b'abc' * 23456)
write(os.path.join(c, 'mixed.bin'), bytes(mixed))
with open(os.path.join(c, 'sparse-compressed.bin'), 'wb') as f:
    f.write(b'z' * 10000); f.seek(2 << 20); f.write(b'end of sparse compressed')

# hard links; one file with many long-named links needs an $ATTRIBUTE_LIST
hl = p('links')
os.mkdir(hl)
write(os.path.join(hl, 'original.txt'), b'linked content\n')
os.link(os.path.join(hl, 'original.txt'), os.path.join(hl, 'second name.txt'))
os.link(os.path.join(hl, 'original.txt'), p('unicode', 'link-from-elsewhere.txt'))
write(os.path.join(hl, 'popular.txt'), b'many names\n' * 100)
for i in range(30):
    os.link(os.path.join(hl, 'popular.txt'), os.path.join(hl, f'popular-link-{i:02d}-' + 'n' * 80 + '.txt'))

# alternate data streams
write(p('ads.txt'), b'main stream\n')
os.setxattr(p('ads.txt'), 'user.Zone.Identifier', b'[ZoneTransfer]\r\nZoneId=3\r\n')
os.setxattr(p('ads.txt'), 'user.big stream', rnd.randbytes(20000))
os.mkdir(p('dir-with-ads'))
os.setxattr(p('dir-with-ads'), 'user.onadir', b'stream on a directory')

# reparse points
r = p('reparse')
os.mkdir(r)
write(os.path.join(r, 'symlink-abs'), b'')
os.setxattr(os.path.join(r, 'symlink-abs'), 'system.ntfs_reparse_data', rp(0xA000000C, '\\??\\C:\\Windows\\notepad.exe', 'C:\\Windows\\notepad.exe', 0))
write(os.path.join(r, 'symlink-rel'), b'')
os.setxattr(os.path.join(r, 'symlink-rel'), 'system.ntfs_reparse_data', rp(0xA000000C, '..\\ads.txt', '..\\ads.txt', 1))
os.mkdir(os.path.join(r, 'junction'))
os.setxattr(os.path.join(r, 'junction'), 'system.ntfs_reparse_data', rp(0xA0000003, '\\??\\C:\\Users\\Public', 'C:\\Users\\Public'))
write(os.path.join(r, 'other-tag'), b'')
os.setxattr(os.path.join(r, 'other-tag'), 'system.ntfs_reparse_data', struct.pack('<IHH', 0x00001234, 8, 0) + bytes(range(16)) + b'ABCDEFGH')
os.symlink('../ads.txt', os.path.join(r, 'interix-link'))

# small things
write(p('empty.txt'), b'')
write(p('tiny.txt'), b'resident\n')
PY
sync
