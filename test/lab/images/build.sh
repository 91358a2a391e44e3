#!/usr/bin/env bash
# Builds the lab's partitioned disk images with real file-system tools (no mounts, no root):
#   win-app01.img   GPT: p1 NTFS "System" (wimapply into an mkntfs volume), p2 ext4 "data" (mke2fs -d)
#   linux-db01.img  MBR: p1 FAT32 "BOOT" (mkfs.fat + mcopy), p2 ext4 "root" (mke2fs -d)
# Each image gets <name>.manifest.json: partitions (start/size in sectors, file system) and, per
# partition, every file's path, size and sha256, so tests can check what a restore produced.
#
# Usage: build.sh [disk-MiB]   (default 64, minimum 64). Prints the image directory as its last line.
# Idempotent: images are cached in test/lab/bin/images/<hash of this script>-<MiB>M/.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin" MTOOLS_SKIP_CHECK=1
mib=${1:-64}
[[ $mib =~ ^[0-9]+$ ]] && ((mib >= 64)) || { echo "build.sh: disk size must be an integer >= 64 (MiB)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
key=$(sha256sum "$here/build.sh" | cut -c1-12)
cache="$(cd "$here/.." && pwd)/bin/images"
out="$cache/$key-${mib}M"
if [ -f "$out/.done" ]; then echo "$out"; exit 0; fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Deterministic pseudo-random bytes: rand <bytes> <seed>
rand() { (openssl enc -aes-128-ctr -nosalt -K "$(printf '%s' "$2" | sha256sum | cut -c1-32)" -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null || true) | head -c "$1"; }

# ---- file trees -------------------------------------------------------------------------------
t="$work/trees"
mkdir -p "$t/win-ntfs/Users/Public/Documents" "$t/win-ntfs/ProgramData/Stillpoint Lab" "$t/win-ntfs/Data/Nested/Deeper" \
  "$t/win-ntfs/inetpub/wwwroot" "$t/win-ext4/srv/data/archive" \
  "$t/lin-fat/EFI/BOOT" "$t/lin-ext4/etc/app" "$t/lin-ext4/var/lib/db" "$t/lin-ext4/home/alice/notes"
printf 'Stillpoint lab: win-app01 system volume.\r\n' >"$t/win-ntfs/Users/Public/Documents/readme.txt"
printf 'Quarterly numbers\r\nQ1,120\r\nQ2,135\r\n' >"$t/win-ntfs/Users/Public/Documents/Quarterly Report.txt"
printf '[app]\r\nname=lab\r\nport=8443\r\n' >"$t/win-ntfs/ProgramData/Stillpoint Lab/config.ini"
printf '<!doctype html><title>win-app01</title><h1>It works</h1>\n' >"$t/win-ntfs/inetpub/wwwroot/index.html"
printf 'deep inside the tree\r\n' >"$t/win-ntfs/Data/Nested/Deeper/notes.txt"
rand 1572864 win-big >"$t/win-ntfs/Data/big.bin"
printf 'id,name\n1,alpha\n2,beta\n' >"$t/win-ext4/srv/data/report.csv"
printf 'old report\n' >"$t/win-ext4/srv/data/archive/2023.txt"
rand 1200000 win-ext4-big >"$t/win-ext4/srv/data/blob.bin"
printf 'linux-db01 boot partition\n' >"$t/lin-fat/README.TXT"
printf 'console=ttyS0 root=/dev/sda2\n' >"$t/lin-fat/EFI/BOOT/grub.cfg"
rand 1100000 lin-fat-big >"$t/lin-fat/EFI/BOOT/kernel.img"
printf 'linux-db01\n' >"$t/lin-ext4/etc/hostname"
printf 'listen=0.0.0.0\nport=5432\n' >"$t/lin-ext4/etc/app/app.conf"
rand 2097152 lin-db >"$t/lin-ext4/var/lib/db/data.db"
printf -- '- back up the database\n- test the restore\n' >"$t/lin-ext4/home/alice/notes/todo.txt"

# ---- helpers ----------------------------------------------------------------------------------
json_files() { # <tree dir>: JSON array of {path,size,sha256}
  local dir=$1 first=1 f rel
  printf '['
  while IFS= read -r -d '' f; do
    rel=${f#"$dir"}
    [ $first -eq 1 ] || printf ','
    first=0
    printf '{"path":"%s","size":%d,"sha256":"%s"}' "$rel" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)"
  done < <(find "$dir" -type f -print0 | sort -z)
  printf ']'
}
part_json() { # index fs label startSector sectorCount tree
  printf '{"index":%d,"fs":"%s","label":"%s","startSector":%d,"sectorCount":%d,"offsetBytes":%d,"files":%s}' \
    "$1" "$2" "$3" "$4" "$5" $(($4 * 512)) "$(json_files "$6")"
}
quiet() { "$@" >"$work/log" 2>&1 || { cat "$work/log" >&2; return 1; }; } # run, show output only on failure
place() { dd if="$1" of="$2" bs=1M seek="$3" conv=notrunc,sparse status=none; } # file image offset-MiB
mkext4() { mke2fs -q -F -t ext4 -O ^orphan_file,^metadata_csum_seed -L "$3" -d "$2" "$1" "$4"k; } # img tree label sizeKiB

size=$((mib * 1024 * 1024))

# ---- win-app01: GPT, NTFS + ext4 --------------------------------------------------------------
img="$work/win-app01.img"
half=$(((mib - 2) / 2))
p1s=2048 p1n=$((half * 2048))
p2s=$((p1s + p1n)) p2n=$(((mib - 2 - half) * 2048))
truncate -s "$size" "$img"
sgdisk -o -n "1:$p1s:$((p1s + p1n - 1))" -t 1:0700 -c "1:Basic data partition" \
  -n "2:$p2s:$((p2s + p2n - 1))" -t 2:8300 -c 2:data "$img" >/dev/null
truncate -s $((p1n * 512)) "$work/p1.ntfs"
quiet mkntfs -q -F -Q -s 512 -p "$p1s" -H 255 -S 63 -L System "$work/p1.ntfs"
wimcapture "$t/win-ntfs" "$work/win.wim" --compress=none >/dev/null
wimapply "$work/win.wim" 1 "$work/p1.ntfs" >/dev/null
place "$work/p1.ntfs" "$img" 1
rm -f "$work/p1.ntfs" "$work/win.wim"
truncate -s $((p2n * 512)) "$work/p2.ext4"
mkext4 "$work/p2.ext4" "$t/win-ext4" data $((p2n / 2))
place "$work/p2.ext4" "$img" $((p2s / 2048))
rm -f "$work/p2.ext4"
printf '{"image":"win-app01.img","sizeBytes":%d,"table":"gpt","sectorSize":512,"partitions":[%s,%s]}\n' "$size" \
  "$(part_json 1 ntfs System $p1s $p1n "$t/win-ntfs")" "$(part_json 2 ext4 data $p2s $p2n "$t/win-ext4")" \
  >"$work/win-app01.manifest.json"

# ---- linux-db01: MBR, FAT32 + ext4 ------------------------------------------------------------
img="$work/linux-db01.img"
fat=$(((mib - 1) / 2)); ((fat >= 40)) || fat=40
p1s=2048 p1n=$((fat * 2048))
p2s=$((p1s + p1n)) p2n=$(((mib - 1 - fat) * 2048))
truncate -s "$size" "$img"
printf 'label: dos\nstart=%d, size=%d, type=c, bootable\nstart=%d, size=%d, type=83\n' $p1s $p1n $p2s $p2n |
  sfdisk -q "$img" >/dev/null
quiet mkfs.fat -F 32 -S 512 -s 1 -n BOOT --offset "$p1s" "$img" $((p1n / 2))
(cd "$t/lin-fat" && mcopy -s -p -Q -i "$img@@$((p1s * 512))" ./* ::/)
truncate -s $((p2n * 512)) "$work/p2.ext4"
mkext4 "$work/p2.ext4" "$t/lin-ext4" root $((p2n / 2))
place "$work/p2.ext4" "$img" $((p2s / 2048))
rm -f "$work/p2.ext4"
printf '{"image":"linux-db01.img","sizeBytes":%d,"table":"mbr","sectorSize":512,"partitions":[%s,%s]}\n' "$size" \
  "$(part_json 1 fat32 BOOT $p1s $p1n "$t/lin-fat")" "$(part_json 2 ext4 root $p2s $p2n "$t/lin-ext4")" \
  >"$work/linux-db01.manifest.json"

rm -rf "$t"
touch "$work/.done"
chmod 755 "$work"
# Publish atomically; a concurrent build of the same key may have won the race.
if ! mv -T "$work" "$out" 2>/dev/null; then rm -rf "$work"; fi
trap - EXIT
[ -f "$out/.done" ] || { echo "build.sh: image directory missing after build" >&2; exit 1; }
echo "$out"
