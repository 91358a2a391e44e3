#!/usr/bin/env bash
# Builds small FAT12/16/32 images with dosfstools + mtools (no mounting).
# Usage: fat.sh OUTDIR → OUTDIR/tree, fat12.img, fat16.img, fat32.img, small.img
# Needs: dosfstools (mkfs.fat), mtools (mcopy, mmd, mdel), perl.
set -euo pipefail
out=${1:?usage: fat.sh OUTDIR}
mkdir -p "$out"
tree="$out/tree"; rm -rf "$tree"; mkdir -p "$tree"
export LC_ALL=C.UTF-8 MTOOLS_SKIP_CHECK=1 TZ=UTC

d="$tree/deep"; for i in $(seq 1 16); do d="$d/level $i"; done; mkdir -p "$d"; echo bottom > "$d/bottom of the tree.txt"
mkdir -p "$tree/A Long Directory Name With Spaces" "$tree/Ünïcödé dïr" "$tree/empty" "$tree/many"
echo hi > "$tree/Ünïcödé dïr/日本語のファイル名.txt"
echo short > "$tree/SHORT.TXT"; echo lower > "$tree/lower.txt"; echo mixed > "$tree/MixedCase.Txt"
echo x > "$tree/a very long file name that needs several LFN entries to hold it all.data"
(cd "$tree/many" && for i in $(seq 1 300); do echo "$i" > "file number $i.txt"; done)
perl -e 'srand(21); for my $n (0,1,511,512,513,2047,2048,2049,4096,70000,300000) { open my $f, ">", "$ARGV[0]/A Long Directory Name With Spaces/size $n.bin" or die; print $f join "", map { chr int rand 256 } 1..$n; close $f }
  open my $g, ">", "$ARGV[1]/big1" or die; print $g join "", map { chr int rand 256 } 1..100000; close $g;
  open my $h, ">", "$ARGV[1]/big2" or die; print $h join "", map { chr int rand 256 } 1..100000; close $h;
  open my $k, ">", "$ARGV[1]/frag.bin" or die; print $k join "", map { chr int rand 256 } 1..250000; close $k' "$tree" "$out"

build() { # img mkfs-args... : mkfs, copy the tree, then make frag.bin fragmented around a deleted file
  local img=$1; shift
  rm -f "$img"; truncate -s "$SIZE" "$img"; mkfs.fat "$@" "$img" >/dev/null
  mcopy -s -i "$img" "$tree"/* ::/
  mcopy -i "$img" "$out/big1" ::/gap1; mcopy -i "$img" "$out/big2" ::/keep; mdel -i "$img" ::/gap1
  mcopy -i "$img" "$out/frag.bin" ::/fragmented.bin
  mcopy -i "$img" "$out/big2" ::/keep2
}
SIZE=3M build "$out/fat12.img" -F 12 -n FAT12VOL
SIZE=24M build "$out/fat16.img" -F 16 -s 2 -n FAT16VOL
SIZE=40M build "$out/fat32.img" -F 32 -s 1 -n FAT32VOL
cp "$out/frag.bin" "$tree/fragmented.bin"; cp "$out/big2" "$tree/keep"; cp "$out/big2" "$tree/keep2"

# small image for fuzzing
st="$out/small-tree"; rm -rf "$st"; mkdir -p "$st/dir one/sub"
echo hello > "$st/dir one/hello.txt"; echo a > "$st/dir one/sub/a long name.txt"; echo b > "$st/B.TXT"
perl -e 'srand(22); open my $f, ">", "$ARGV[0]/data.bin" or die; print $f join "", map { chr int rand 256 } 1..9000; close $f' "$st"
rm -f "$out/small.img"; truncate -s 300K "$out/small.img"; mkfs.fat -F 12 -s 1 "$out/small.img" >/dev/null
mcopy -s -i "$out/small.img" "$st"/* ::/
