# A fresh Debian bookworm root for packaging/build-deb and packaging/test-deb-in-debootstrap, of this
# machine's architecture or of another one (arm64 for a Raspberry Pi) run under qemu user emulation.
# Sourced, not run; needs root and Debian's apt.

host_arch() { dpkg --print-architecture; }

# apt-get install what is missing on this host, quietly.
host_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages on this host: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The mirror this machine's apt uses (deb822 or one-line sources), else Debian's own.
debian_mirror() {
  local mirror
  mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
           grep -Eo '(https?://[^ ]+/debian)/?( |$)' | grep -v security | head -1 | tr -d ' ' || true)
  mirror=${mirror%/}
  echo "${mirror:-http://deb.debian.org/debian}"
}

# So that ARCH's programs run here: qemu-user-static registered with binfmt_misc with the F flag (the
# kernel opens the interpreter when it is registered, so a chroot needs no copy of it). Says exactly what
# is missing when this machine (a container without the privilege, say) cannot register it.
enable_emulation() {
  local arch=$1 qemu
  case "$arch" in
    arm64) qemu=aarch64 ;;
    armhf|armel) qemu=arm ;;
    *) qemu=$arch ;;
  esac
  host_packages qemu-user-static binfmt-support
  if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount binfmt_misc -t binfmt_misc /proc/sys/fs/binfmt_misc ||
      { echo "cannot mount binfmt_misc on /proc/sys/fs/binfmt_misc: $arch programs cannot run here" >&2; return 1; }
  fi
  [ -e "/proc/sys/fs/binfmt_misc/qemu-$qemu" ] || update-binfmts --enable "qemu-$qemu" >&2 ||
    { echo "update-binfmts --enable qemu-$qemu failed: $arch programs cannot run here" >&2; return 1; }
  grep -qx enabled "/proc/sys/fs/binfmt_misc/qemu-$qemu" ||
    { echo "binfmt_misc: qemu-$qemu is registered but not enabled" >&2; return 1; }
  grep -q '^flags: .*F' "/proc/sys/fs/binfmt_misc/qemu-$qemu" ||
    { echo "binfmt_misc: qemu-$qemu lacks the F flag (a chroot could not find the interpreter)" >&2; return 1; }
}

# debootstrap --variant=minbase bookworm for ARCH into ROOT; its log into LOG.
bootstrap_bookworm() {
  local arch=$1 root=$2 log=$3
  host_packages debootstrap
  if [ "$arch" != "$(host_arch)" ]; then enable_emulation "$arch" || return 1; fi
  debootstrap --arch="$arch" --variant=minbase bookworm "$root" "$(debian_mirror)" >"$log" 2>&1 ||
    { tail -20 "$log" >&2; echo "debootstrap --arch=$arch failed (log: $log)" >&2; return 1; }
  cp /etc/resolv.conf "$root/etc/resolv.conf"
}

# /proc, /dev and /dev/pts of ROOT, which pip, apt and a pty need.
mount_root() {
  local root=$1
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
  mountpoint -q "$root/dev/pts" || mount --bind /dev/pts "$root/dev/pts"
}

umount_root() {
  local root=$1 m
  for m in dev/pts dev proc; do mountpoint -q "$root/$m" && umount "$root/$m"; done
  return 0
}
