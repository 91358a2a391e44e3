#!/usr/bin/env bash
# Builds the item-restore benchmark's disk: a GPT disk of SIZE_GIB (sparse) with one NTFS partition
# holding FILES small files in ~FILES/100 folders, a 1 GiB file of random bytes and a 40-level deep
# path. Made by the real tools: sgdisk, mkntfs, wimcapture + wimapply (no FUSE needed).
# Usage: dataset.sh OUT.img [SIZE_GIB=20] [FILES=100000]. Deterministic content (seeded).
set -euo pipefail
out=${1:?usage: dataset.sh OUT.img [SIZE_GIB] [FILES]}
size_gib=${2:-20}
files=${3:-100000}
for t in sgdisk mkntfs wimcapture wimapply python3; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$t" >/dev/null || { echo "missing $t (run test/lab/setup.sh)" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/sp-items-XXXXXX")
trap 'rm -rf "$work"' EXIT

python3 - "$work/tree" "$files" <<'PY'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
os.makedirs(root)
words = ['report', 'invoice', 'notes', 'budget', 'draft', 'photo', 'scan', 'letter', 'data', 'backup']
exts = ['.txt', '.docx', '.xlsx', '.pdf', '.csv', '.jpg', '.log', '.xml']
per = 100
for i in range(n):
    d = os.path.join(root, f'dept{i // (per * 50):02d}', f'project{i // per:05d}')
    if i % per == 0:
        os.makedirs(d, exist_ok=True)
    name = f'{rnd.choice(words)}-{i:06d}{rnd.choice(exts)}'
    with open(os.path.join(d, name), 'wb') as f:
        f.write(rnd.randbytes(rnd.randint(64, 4096)))
# the file every search looks for, in one folder
with open(os.path.join(root, 'dept00', 'project00000', 'report.xlsx'), 'wb') as f:
    f.write(b'quarterly figures\n' * 100)
deep = os.path.join(root, 'deep', *[f'level{i:02d}' for i in range(40)])
os.makedirs(deep)
with open(os.path.join(deep, 'bottom.txt'), 'wb') as f:
    f.write(b'the bottom of the tree\n')
big = os.path.join(root, 'big')
os.makedirs(big)
with open(os.path.join(big, 'one-gib.bin'), 'wb') as f:
    r = random.Random(1)
    for _ in range(1024):
        f.write(r.randbytes(1 << 20))
PY

wimcapture "$work/tree" "$work/tree.wim" --compress=none >/dev/null
rm -f "$out"
truncate -s "${size_gib}G" "$out"
sgdisk -o -n 1:2048:0 -t 1:0700 -c 1:data "$out" >/dev/null
start=$((2048 * 512))
end=$(sgdisk -i 1 "$out" | awk '/Last sector/ {print $3}')
sectors=$((end - 2048 + 1))
# mkntfs and wimapply work on a file of the partition's size; it is then copied into place sparsely.
part="$work/part.img"
truncate -s $((sectors * 512)) "$part"
mkntfs -F -f -Q -L items-bench -p 2048 -H 255 -S 63 "$part" >/dev/null 2>&1
wimapply "$work/tree.wim" 1 "$part" >/dev/null
dd if="$part" of="$out" bs=4M seek=$((start)) oflag=seek_bytes conv=sparse,notrunc status=none
echo "$out: ${size_gib} GiB GPT disk, NTFS at sector 2048, $files files + report.xlsx + a 1 GiB file + a 40-level path"
