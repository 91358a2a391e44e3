#!/usr/bin/env bash
# Formats empty exFAT images with exfatprogs (it cannot add files and FUSE mounts are not
# available everywhere: exfat.test.ts adds the files itself and lets fsck.exfat check the result).
# Usage: exfat.sh OUTDIR → OUTDIR/exfat.img (8 MiB, 4 KiB clusters), OUTDIR/small.img (1 MiB, 512-byte clusters)
# Needs: exfatprogs (mkfs.exfat, fsck.exfat).
set -euo pipefail
out=${1:?usage: exfat.sh OUTDIR}
mkdir -p "$out"
rm -f "$out/exfat.img" "$out/small.img"
truncate -s 8M "$out/exfat.img"; mkfs.exfat -L STILLPOINT -c 4096 "$out/exfat.img" >/dev/null
truncate -s 1M "$out/small.img"; mkfs.exfat -L SMALL -c 512 -b 16K "$out/small.img" >/dev/null
