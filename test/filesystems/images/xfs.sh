#!/usr/bin/env bash
# Builds XFS test images: the kernel writes them (mkfs.xfs, then a loop mount as root and plain
# file operations), so directories, extent lists, bmap B+trees and the log are the real thing.
# Usage: xfs.sh OUTDIR  → OUTDIR/xfs.img (v5, 4 KiB blocks, bigtime, everything below)
#                          OUTDIR/geometry.img (v5, 1 KiB blocks, 8 KiB directory blocks)
#                          OUTDIR/small.img (v5, for fuzzing)  OUTDIR/dirty.img (log not replayed)
#                          OUTDIR/wrapped-{clean,dirty}.img (a small log written round more than once)
#                          OUTDIR/v4.img (v4 without CRCs, filled by mkfs.xfs -p protofile)
#                          OUTDIR/v4-tree (what v4.img holds)
# Needs: root, loop devices, xfsprogs (mkfs.xfs, xfs_io), attr (setfattr), perl, coreutils.
set -euo pipefail
out=${1:?usage: xfs.sh OUTDIR}
mkdir -p "$out"
export LC_ALL=C.UTF-8
mnt=$(mktemp -d)
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rmdir "$mnt"; }
trap cleanup EXIT

mkimg() { rm -f "$1"; truncate -s "$2" "$1"; mkfs.xfs -q -f "${@:3}" "$1"; }
rnd() { head -c "$2" /dev/urandom > "$1"; }

# ---- the main image ------------------------------------------------------------------------
mkimg "$out/xfs.img" 400M -L stillpoint -m crc=1,bigtime=1,finobt=1 -i size=512
# allocsize: no large speculative preallocation, so interleaved allocations really fragment
mount -o loop,allocsize=4k "$out/xfs.img" "$mnt"
t=$mnt
d="$t/deep"; for i in $(seq 1 40); do d="$d/level$i"; done
mkdir -p "$d"; echo "bottom of the deep tree" > "$d/bottom.txt"
mkdir -p "$t/日本語 ディレクトリ"; printf 'naïve\n' > "$t/naïve café.txt"
printf 'kanji\n' > "$t/日本語 ディレクトリ/ファイル.txt"; printf '\xf0\x9f\x98\x80' > "$t/😀 emoji.bin"
for n in 0 1 335 336 4095 4096 4097 65536 100000; do rnd "$t/size_$n.bin" $n; done
rnd "$t/big.bin" $((24 * 1024 * 1024))
cp --reflink=always "$t/big.bin" "$t/big-clone.bin"; printf 'changed' | dd of="$t/big-clone.bin" bs=1 seek=5000000 conv=notrunc status=none
# many extents: 4 KiB of data every 8 KiB (holes between), 1500 extents → a bmap B+tree
perl -e 'open my $f, "+>", $ARGV[0] or die; open my $r, "<", "/dev/urandom" or die;
  for my $i (0..1499) { read $r, my $b, 4096; seek $f, $i * 8192, 0; print $f $b } close $f' "$t/fragmented.bin"
# sparse: 80 MiB with data at start, middle and end
perl -e 'open my $f, ">", $ARGV[0] or die; print $f "start"; seek $f, 33554431, 0; print $f join "", map { chr(($_ * 7) % 251) } 1..10000;
  seek $f, 83886077, 0; print $f "end"; close $f' "$t/sparse.bin"
# preallocated (unwritten) ranges: written 0..64K and 512K..516K, unwritten 64K..2M, size 2M
xfs_io -f -c 'pwrite -S 0x61 0 64k' -c 'falloc 64k 2m' -c 'pwrite -S 0x62 512k 4k' "$t/prealloc.bin" >/dev/null
# preallocated beyond EOF only (keep size): reads end at 8 KiB
xfs_io -f -c 'pwrite -S 0x63 0 8k' -c 'falloc -k 8k 1m' "$t/prealloc-keep.bin" >/dev/null
echo "linked content" > "$t/hardlink-a.txt"; ln "$t/hardlink-a.txt" "$t/hardlink-b.txt"
mkdir -p "$t/sub"; ln "$t/hardlink-a.txt" "$t/sub/hardlink-c.txt"
ln -s size_1.bin "$t/short-symlink"
ln -s "$(printf 'x%.0s' $(seq 1 700))/a/target/longer/than/the/inode/fork/so/it/lives/in/a/remote/block" "$t/long-symlink"
ln -s "日本語 ディレクトリ/ファイル.txt" "$t/unicode-symlink"
mkfifo "$t/a-fifo"
# directories in every format: shortform, block, leaf, node; big-dir gets a B+tree data fork
# because a file in the same directory grows between the directory's block allocations
mkdir -p "$t/dir-short" "$t/dir-block" "$t/dir-leaf" "$t/big-dir"
for i in 1 2 3; do echo "$i" > "$t/dir-short/s$i"; done
for i in $(seq 1 60); do : > "$t/dir-block/entry-$i"; done
for i in $(seq 1 400); do : > "$t/dir-leaf/a-somewhat-longer-file-name-$i"; done
perl -MIO::Handle -e 'my $d = $ARGV[0]; open my $f, ">", "$d/filler" or die; my $blk = "z" x 4096;
  for my $i (1..6000) { open my $g, ">", sprintf("%s/entry-%05d-with-a-long-name-to-fill-directory-blocks", $d, $i) or die; print $g $i if $i % 97 == 0; close $g;
    if ($i % 25 == 0) { print $f $blk; $f->flush; $f->sync } } close $f' "$t/big-dir"
# owners, modes and times (bigtime: after 2038 and before 1970; nanoseconds)
chown 1234:5678 "$t/size_1.bin"; chmod 4751 "$t/size_1.bin"; chmod 0600 "$t/size_0.bin"
touch -h -d '2001-02-03 04:05:06.123456789 UTC' "$t/size_1.bin"
touch -d '2400-06-07 08:09:10.5 UTC' "$t/size_335.bin"
touch -d '1960-01-01 00:00:01 UTC' "$t/size_336.bin"
mkdir -p "$t/empty-dir"
# extended attributes (as SELinux labels put on every file): an attribute fork shrinks the data
# fork, so short-form directories, inline symlinks, extent lists and bmap roots get less room
label=system_u:object_r:etc_t:s0
for f in "$t/dir-short" "$t/dir-short"/* "$t/dir-block" "$t/dir-block"/* "$t/dir-leaf" "$t/big-dir" "$t/sub" "$t/prealloc.bin" "$t/size_4097.bin"; do setfattr -n trusted.label -v "$label" "$f"; done
setfattr -h -n trusted.label -v "$label" "$t/short-symlink"
setfattr -h -n trusted.label -v "$label" "$t/long-symlink"
setfattr -n user.big -v "0s$(head -c 3000 /dev/urandom | base64 -w0)" "$t/fragmented.bin"
for i in $(seq 1 30); do setfattr -n "user.attr$i" -v "value number $i" "$t/sub"; done
umount "$mnt"

# ---- other geometry: 1 KiB blocks, 8 KiB directory blocks (a directory block spans 8 filesystem blocks),
# 64-bit extent counters (nrext64: the count moves to another place in the inode)
mkimg "$out/geometry.img" 300M -m crc=1 -b size=1024 -n size=8192 -i size=512,nrext64=1
mount -o loop,allocsize=4k "$out/geometry.img" "$mnt"
g=$mnt; mkdir -p "$g/many" "$g/few"
perl -e 'for my $i (1..1500) { open my $f, ">", sprintf("%s/many/file-number-%04d-of-a-directory-with-big-blocks", $ARGV[0], $i) or die; print $f "x" x ($i % 50); close $f }' "$g"
for i in 1 2 3 4 5; do echo "$i" > "$g/few/f$i"; done
rnd "$g/big.bin" $((3 * 1024 * 1024))
perl -e 'open my $f, "+>", $ARGV[0] or die; for my $i (0..399) { seek $f, $i * 2048, 0; print $f chr(65 + $i % 26) x 1024 } close $f' "$g/fragmented.bin"
ln -s "$(printf 'z%.0s' $(seq 1 1000))" "$g/longest-symlink"
setfattr -n trusted.label -v system_u:object_r:etc_t:s0 "$g/many"
xfs_io -f -c 'pwrite -S 0x61 0 3k' -c 'falloc 3k 100k' "$g/prealloc.bin" >/dev/null
umount "$mnt"

# ---- a small image for fuzzing (the kernel still demands 300 MiB; it stays sparse) -------------
mkimg "$out/small.img" 300M -m crc=1,bigtime=1 -i size=512
mount -o loop,allocsize=4k "$out/small.img" "$mnt"
mkdir -p "$mnt/a/b" "$mnt/blk" "$mnt/leaf"
echo hello > "$mnt/a/hello.txt"; ln -s a/hello.txt "$mnt/l"
ln -s "$(printf 'y%.0s' $(seq 1 500))" "$mnt/long-link"
rnd "$mnt/a/b/data.bin" 20000
perl -e 'open my $f, "+>", $ARGV[0] or die; for my $i (0..59) { seek $f, $i * 8192, 0; print $f "q" x 4096 } close $f' "$mnt/frag.bin"
for i in $(seq 1 40); do : > "$mnt/blk/e$i"; done
for i in $(seq 1 300); do : > "$mnt/leaf/a-longer-name-for-a-leaf-directory-$i"; done
xfs_io -f -c 'pwrite -S 0x61 0 4k' -c 'falloc 4k 64k' "$mnt/prealloc.bin" >/dev/null
for f in "$mnt/a" "$mnt/frag.bin" "$mnt/leaf"; do setfattr -n trusted.label -v system_u:object_r:etc_t:s0 "$f"; done
umount "$mnt"

# ---- a dirty log: the filesystem is shut down (log forced, no unmount record) ----------------
mkimg "$out/dirty.img" 300M
mount -o loop "$out/dirty.img" "$mnt"
mkdir -p "$mnt/d"; for i in $(seq 1 50); do echo "$i" > "$mnt/d/f$i"; done
sync
for i in $(seq 51 80); do echo "$i" > "$mnt/d/f$i"; done
xfs_io -x -c 'shutdown -f' "$mnt"
umount "$mnt"

# ---- a small log (mkfs accepts < 64 MiB only with its fstests variables) written round more than
# once: the head sits mid-log between cycle 2 and cycle 1 blocks. Clean after umount, then dirty.
rm -f "$out/wrapped-clean.img"; truncate -s 300M "$out/wrapped-clean.img"
TEST_DEV=1 TEST_DIR=1 QA_CHECK_FS=1 mkfs.xfs -q -f -l size=1368b "$out/wrapped-clean.img"
mount -o loop "$out/wrapped-clean.img" "$mnt"
churn='my $d = $ARGV[0]; for my $r (1..$ARGV[1]) { for my $i (1..4000) { open my $f, ">", "$d/f$i" or die; close $f } unlink "$d/f$_" for 1..4000 }'
perl -e "$churn" "$mnt" 3; echo kept > "$mnt/kept.txt"
umount "$mnt"
cp --sparse=always "$out/wrapped-clean.img" "$out/wrapped-dirty.img"
mount -o loop "$out/wrapped-dirty.img" "$mnt"
perl -e "$churn" "$mnt" 1; sync; xfs_io -x -c 'shutdown -f' "$mnt"
umount "$mnt"

# ---- v4 (no CRCs, no file type in directory entries): written by mkfs.xfs from a protofile (the kernel no longer mounts v4) ----------------------
v4=$out/v4-tree; rm -rf "$v4"; mkdir -p "$v4/dir/sub" "$v4/many"
echo "v4 says hi" > "$v4/dir/hello.txt"; rnd "$v4/dir/sub/data.bin" 300000
for i in $(seq 1 200); do echo "$i" > "$v4/many/file-with-a-name-$i"; done
ln -s dir/hello.txt "$v4/link"
{
  echo "/dev/null"; echo "0 0"; echo "d--755 0 0"
  emit() { # emit DIR INDENT: protofile lines for the contents of DIR
    local dir=$1 ind=$2 e name
    for e in $(cd "$dir" && LC_ALL=C ls); do
      name=$e
      if [ -L "$dir/$e" ]; then echo "$ind$name l--777 0 0 $(readlink "$dir/$e")"
      elif [ -d "$dir/$e" ]; then echo "$ind$name d--755 0 0"; emit "$dir/$e" "$ind "; echo "$ind\$"
      else echo "$ind$name ---644 0 0 $dir/$e"; fi
    done
  }
  emit "$v4" " "
  echo "\$"
} > "$out/v4.proto"
mkimg "$out/v4.img" 300M -m crc=0 -n ftype=0 -p "$out/v4.proto"
