#!/usr/bin/env bash
# Builds small ext2/ext3/ext4 test images with the real e2fsprogs (no mounting).
# Usage: ext4.sh OUTDIR   → OUTDIR/tree, OUTDIR/ext4.img, ext4-inline.img, ext2.img, ext3.img, small.img
# Needs: e2fsprogs (mke2fs, e2fsck), coreutils.
set -euo pipefail
out=${1:?usage: ext4.sh OUTDIR}
mkdir -p "$out"
tree="$out/tree"
rm -rf "$tree"; mkdir -p "$tree"
export LC_ALL=C.UTF-8

# deep tree
d="$tree/deep"; for i in $(seq 1 24); do d="$d/level$i"; done
mkdir -p "$d"; echo "bottom of the deep tree" > "$d/bottom.txt"
# Unicode names
mkdir -p "$tree/日本語 ディレクトリ"; printf 'naïve\n' > "$tree/naïve café.txt"
printf 'kanji\n' > "$tree/日本語 ディレクトリ/ファイル.txt"; printf '\xf0\x9f\x98\x80' > "$tree/😀 emoji.bin"
# small files of many sizes, including exact block multiples
# (one perl process: spawning is slow on some hosts; seeded, so images are reproducible)
perl -e 'srand(11); sub rnd { join "", map { chr int rand 256 } 1..$_[0] }
  for my $n (0,1,59,60,61,1023,1024,1025,4095,4096,4097,12288,65536,100000) { open my $f, ">", "$ARGV[0]/size_$n.bin" or die; print $f rnd($n); close $f }
  # many extents: 4 KiB of data then 4 KiB of zeros (mke2fs -d leaves zero blocks as holes), 600 times
  open my $g, ">", "$ARGV[0]/fragmented.bin" or die; for (1..600) { print $g rnd(4096), "\0" x 4096 } close $g' "$tree"
# sparse: 80 MiB with data at start, middle and end (mostly holes; with 1 KiB blocks the end is triple-indirect)
perl -e 'open my $f, ">", $ARGV[0] or die; print $f "start"; seek $f, 33554431, 0; print $f join "", map { chr(($_ * 7) % 251) } 1..10000;
  seek $f, 83886077, 0; print $f "end"; close $f' "$tree/sparse.bin"
# hard links, fast and slow symlinks
echo "linked content" > "$tree/hardlink-a.txt"; ln "$tree/hardlink-a.txt" "$tree/hardlink-b.txt"
ln -s size_1.bin "$tree/fast-symlink"
ln -s "$(printf 'x%.0s' $(seq 1 80))/this/target/is/longer/than/sixty/bytes/so/it/is/stored/in/a/block" "$tree/slow-symlink"
# a directory with > 2000 entries (indexed as an htree by e2fsck -D)
mkdir -p "$tree/big-dir"; (cd "$tree/big-dir" && for i in $(seq 1 2100); do : > "f$i"; done; echo 1999 > f1999)
# times: nanoseconds, after 2038 (epoch bits) and before 1970
touch -d '2001-02-03 04:05:06.123456789 UTC' "$tree/size_1.bin"
touch -d '2100-06-07 08:09:10.5 UTC' "$tree/size_59.bin"
touch -d '1960-01-01 00:00:01 UTC' "$tree/size_60.bin"
mkdir -p "$tree/empty-dir"

mk() { rm -f "$2"; mke2fs -q -F -t "$1" "${@:3}" -d "$tree" "$2" 96M; e2fsck -fyD "$2" >/dev/null 2>&1 || [ $? -le 2 ]; }
mk ext4 "$out/ext4.img" -b 4096 -I 256
mk ext4 "$out/ext4-1k.img" -b 1024 -I 256 -O 64bit,meta_bg,^resize_inode -N 3000
# mke2fs -d 1.47.0 stores neither nanoseconds nor the epoch bits: set them (123456789 ns; epoch 1 + 0.5 s)
printf 'sif /size_1.bin mtime_extra 493827156\nsif /size_59.bin mtime_extra 2000000001\n' > "$out/times.debugfs"
for i in ext4 ext4-1k; do debugfs -w -f "$out/times.debugfs" "$out/$i.img" >/dev/null 2>&1; done
# ext2/ext3 without the big directory (mke2fs -d links entries in quadratic time)
mv "$tree/big-dir" "$out/big-dir.tmp"
mk ext2 "$out/ext2.img" -b 1024 -I 128
mk ext3 "$out/ext3.img" -b 4096
mv "$out/big-dir.tmp" "$tree/big-dir"

# inline data: only small files and small directories
it="$out/inline-tree"; rm -rf "$it"; mkdir -p "$it/small-dir/sub"
printf 'tiny' > "$it/tiny.txt"; perl -e 'srand(12); for ([59, "fits-in-iblock.bin"], [100, "uses-xattr.bin"], [5000, "too-big.bin"]) { open my $f, ">", "$ARGV[0]/$_->[1]" or die; print $f join "", map { chr int rand 256 } 1..$_->[0]; close $f }' "$it"
echo hi > "$it/small-dir/a"; echo there > "$it/small-dir/sub/b"; ln -s tiny.txt "$it/link"
rm -f "$out/ext4-inline.img"; mke2fs -q -F -t ext4 -O inline_data -I 512 -d "$it" "$out/ext4-inline.img" 4M

# a small image for fuzzing: extents tree, indirect-free, a few dirs and a symlink
st="$out/small-tree"; rm -rf "$st"; mkdir -p "$st/a/b"
echo hello > "$st/a/hello.txt"; ln -s a/hello.txt "$st/l"
perl -e 'srand(13); open my $f, ">", "$ARGV[0]/a/b/data.bin" or die; print $f join "", map { chr int rand 256 } 1..20000; close $f;
  open my $g, ">", "$ARGV[0]/frag.bin" or die; for (1..40) { print $g join("", map { chr int rand 256 } 1..1024), "\0" x 1024 } close $g' "$st"
rm -f "$out/small.img"; mke2fs -q -F -t ext4 -b 1024 -N 64 -d "$st" "$out/small.img" 1M
rm -f "$out/small2.img"; mke2fs -q -F -t ext2 -b 1024 -N 64 -d "$st" "$out/small2.img" 1M
