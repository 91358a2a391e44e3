#!/usr/bin/env bash
# Installs what Stillpoint needs from the system and builds the lab vCenter (vcsim).
# Idempotent: a second run with everything in place does nothing and takes well under a second.
# Called by `npm run demo` and `npm test`; safe to run by hand.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)

# command -> Debian package that provides it
declare -A need=(
  [go]=golang-go
  [mke2fs]=e2fsprogs
  [mkntfs]=ntfs-3g
  [wimapply]=wimtools
  [mcopy]=mtools
  [mkfs.fat]=dosfstools
  [sgdisk]=gdisk
  [sfdisk]=fdisk
  [fls]=sleuthkit
  [qemu-img]=qemu-utils
  [chromium]=chromium
  [restic]=restic
  [borg]=borgbackup
  [fsntfsinfo]=libfsntfs-utils
  [esedbinfo]=libesedb-utils
  [openssl]=openssl
  [zstd]=zstd
  [icat]=sleuthkit
  [xz]=xz-utils
  [python3]=python3
  [perl]=perl
  [debugfs]=e2fsprogs
  [mkfs.exfat]=exfatprogs
  [mkfs.xfs]=xfsprogs
  [xfs_db]=xfsprogs
  [setfattr]=attr
  [fsxfsinfo]=libfsxfs-utils
  [pvcreate]=lvm2
  [nbdinfo]=libnbd-bin
  [nbdcopy]=libnbd-bin
  [nbdfuse]=libnbd-bin
  [fusermount3]=fuse3
  [samba-tool]=samba
  [ldbsearch]=ldb-tools
  [dovecot]=dovecot-imapd
  [msgconvert]=libemail-outlook-message-perl
)
missing=()
for cmd in "${!need[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${need[$cmd]}")
done
[ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] || missing+=(golang-github-vmware-govmomi-dev)
[ -d /usr/share/samba/setup/ad-schema ] || missing+=(samba-ad-provision)  # samba-tool domain provision needs it
[ -f /usr/lib/x86_64-linux-gnu/samba/ldb/samba_dsdb.so ] || missing+=(samba-dsdb-modules)  # and its ldb modules
[ -f /usr/lib/x86_64-linux-gnu/samba/vfs/acl_xattr.so ] || missing+=(samba-vfs-modules)  # and acl_xattr for sysvol
perl -MEmail::Address -e1 2>/dev/null || missing+=(libemail-address-perl)  # msgconvert needs it (only a Recommends)
# Filesystem images made by others, read by the file-level restore tests next to sleuthkit.
for fs in ntfs ext2 ext4 vfat exfat multiple; do
  [ -d "/usr/share/doc/forensics-samples-$fs" ] || missing+=("forensics-samples-$fs")
done

if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "stillpoint setup: missing system packages. Run as root, then try again:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "stillpoint setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies (so `npm test` alone works on a fresh clone): install when missing or older than the lock.
if [ ! -x "$root/node_modules/.bin/tsc" ] || [ "$root/package-lock.json" -nt "$root/node_modules/.package-lock.json" ]; then
  echo "stillpoint setup: installing npm dependencies" >&2
  (cd "$root" && npm install --no-audit --no-fund >&2)
fi

# Build the lab vCenter when its sources are newer than the binary.
bin="$root/test/lab/bin/vcsim-lab"
src="$root/test/lab/vcsim"
if [ -d "$src" ]; then
  if [ ! -x "$bin" ] || [ -n "$(find "$src" -name '*.go' -newer "$bin" -print -quit)" ]; then
    echo "stillpoint setup: building the lab vCenter" >&2
    mkdir -p "$(dirname "$bin")"
    (cd "$src" && GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="${GOCACHE:-$root/test/lab/bin/.gocache}" go build -o "$bin" .)
  fi
fi
