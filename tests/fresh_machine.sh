#!/usr/bin/env bash
# Proves the README on a fresh Debian 12 machine: builds a minimal bookworm root with
# debootstrap, puts a clean checkout of HEAD (exactly what is committed, no build dirs) in it
# with ../shared/data beside it, and runs the README's first two ```sh blocks there as root
# (no sudo), as written. Fails when either fails; removes the root and every mount on any exit.
#
#   sudo bash tests/fresh_machine.sh
#
# Exit status: 0 both README commands passed; 1 a step failed (the message names it);
# 77 it cannot run here (not root, no debootstrap, no mounts, no mirror, no disk).
# Environment (all optional; the default downloads everything afresh and keeps nothing):
#   FRESH_TARBALL=/path/bookworm.tgz   reuse this debootstrap tarball, making it first if
#                                      absent (local iteration only: CI should not set it)
#   FRESH_WORKDIR=/var/tmp             where the root is made (needs ~4 GiB)
#   FRESH_TIMEOUT=1500                 seconds for the whole run before it fails (a hang
#                                      must not eat a CI budget); ~12 min measured on 2 cores
#   FRESH_MIRROR, FRESH_SECURITY_MIRROR  default: the URIs of this machine's debian.sources
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
t_start=$(date +%s)
deadline=$((t_start + ${FRESH_TIMEOUT:-1500}))

say() { printf '\n=== fresh_machine: %s\n' "$*"; }
skip() { echo "fresh_machine: cannot run here: $*" >&2; exit 77; }
die() { echo "fresh_machine: FAILED: $*" >&2; exit 1; }

# ---- can it run at all? ---------------------------------------------------------------
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, mounts): sudo bash $0"
[ "$(uname -s)" = Linux ] || skip "needs Linux"
command -v git >/dev/null || skip "needs git to export HEAD"
git -C "$repo" rev-parse --verify -q HEAD >/dev/null || skip "$repo is not a git checkout with a commit"
[ -d "$repo/../shared/data" ] || skip "no ../shared/data beside the repository (the README needs it)"

# The mirrors: the URIs this machine's apt already uses (deb822 debian.sources), else Debian's.
mirror=${FRESH_MIRROR:-}
security=${FRESH_SECURITY_MIRROR:-}
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
  while read -r key uri _; do
    [ "$key" = URIs: ] || continue
    case "$uri" in
      *-security*) [ -n "$security" ] || security=$uri ;;
      *) [ -n "$mirror" ] || mirror=$uri ;;
    esac
  done </etc/apt/sources.list.d/debian.sources
fi
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-http://deb.debian.org/debian-security}

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap on this machine"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap; } \
    || skip "debootstrap is missing and could not be installed"
fi
command -v wget >/dev/null || skip "needs wget (debootstrap depends on it)"
wget -q --spider --timeout=20 --tries=2 "$mirror/dists/$suite/Release" \
  || skip "no network to the mirror $mirror"

parent=${FRESH_WORKDIR:-/var/tmp}
mkdir -p "$parent"
avail_kib=$(df -Pk "$parent" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -ge $((4 * 1024 * 1024)) ] || skip "under 4 GiB free in $parent (FRESH_WORKDIR)"
probe=$(mktemp -d "$parent/sscor-fresh-probe.XXXXXX")
if mount -t tmpfs probe "$probe" 2>/dev/null; then
  umount "$probe"
  rmdir "$probe"
else
  rmdir "$probe"
  skip "cannot mount (needs CAP_SYS_ADMIN: a real machine or a privileged container)"
fi

# ---- the root, and its removal on any exit --------------------------------------------
work=$(mktemp -d "$parent/sscor-fresh.XXXXXX")
work=$(cd "$work" && pwd -P) # /proc/PID/root shows the real path
root=$work/root
mkdir "$root"
mounts=() # mount points, in the order mounted
declare -A took=()
phases=()
step_pid=""

# processes whose root directory is our chroot: only ones this script started
chroot_pids() {
  local p r
  for p in /proc/[0-9]*; do
    r=$(readlink "$p/root" 2>/dev/null) || continue
    case "$r" in "$root" | "$root"/*) echo "${p#/proc/}" ;; esac
  done
}
mounted_under_root() { awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo; }

cleanup() {
  local rc=$? i pids=() left
  trap - EXIT INT TERM HUP
  set +e
  if [ -n "$step_pid" ] && kill -0 "$step_pid" 2>/dev/null; then
    kill -TERM "$step_pid" 2>/dev/null # timeout(1) passes it on to the step
    for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$step_pid" 2>/dev/null || break; sleep 0.5; done
  fi
  mapfile -t pids < <(chroot_pids)
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "fresh_machine: stopping processes left in the root: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null
    for i in 1 2 3 4 5 6 7 8 9 10; do
      [ -n "$(chroot_pids)" ] || break
      sleep 0.5
    done
    mapfile -t pids < <(chroot_pids)
    [ "${#pids[@]}" -eq 0 ] || kill -KILL "${pids[@]}" 2>/dev/null
    sleep 0.5
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" \
      || echo "fresh_machine: could not unmount ${mounts[i]}" >&2
  done
  left=$(mounted_under_root)
  if [ -n "$left" ]; then
    # never rm across a mount (a bind of /dev would take the host's devices with it)
    echo "fresh_machine: still mounted, $work NOT removed:" "$left" >&2
    [ "$rc" -ne 0 ] || rc=1
  else
    rm -rf --one-file-system "$work"
  fi
  if [ "${#phases[@]}" -gt 0 ]; then
    echo
    echo "fresh_machine: phase timings (s)"
    for i in "${phases[@]}"; do printf '  %6s  %s\n' "${took[$i]}" "$i"; done
    printf '  %6s  %s\n' "$(($(date +%s) - t_start))" "total"
  fi
  case "$rc" in
    0) echo "fresh_machine: PASSED: the README's commands work on a fresh Debian 12 root" ;;
    77) ;;
    *) echo "fresh_machine: exit $rc" >&2 ;;
  esac
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "fresh_machine: interrupted" >&2; exit 130' INT
trap 'echo "fresh_machine: terminated" >&2; exit 143' TERM
trap 'exit 129' HUP

# per-command times from the xtrace timestamps of the top-level commands
split_times() {
  local trace=$root/work/readme_$1.trace end=$2
  [ -s "$trace" ] || return 0
  awk -v end="$end" '
    /^\+ [0-9]+\.[0-9]+ / { if (n) printf "    %6.0f    %s\n", $2 - t, c
                            n++; t = $2; c = substr($0, length($1 $2) + 3) }
    END { if (n) printf "    %6.0f    %s\n", end - t, c }' "$trace"
}

# Runs "$@" in the background and waits for it, so a signal reaches the traps at once
# (a foreground child would delay them until it ended); bounded by the overall deadline.
step() { # [--trace N] NAME COMMAND...
  local trace="" name t0 rc=0 left
  if [ "$1" = --trace ]; then trace=$2; shift 2; fi
  name=$1
  shift
  left=$((deadline - $(date +%s)))
  [ "$left" -gt 0 ] || die "out of time (FRESH_TIMEOUT=${FRESH_TIMEOUT:-1500} s) before: $name"
  say "$name"
  t0=$(date +%s)
  timeout --kill-after=20 "$left" "$@" </dev/null &
  step_pid=$!
  wait "$step_pid" || rc=$?
  step_pid=""
  phases+=("$name")
  took[$name]=$(($(date +%s) - t0))
  if [ -n "$trace" ]; then
    echo "  per command (s):"
    split_times "$trace" "$(date +%s.%N)"
  fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    die "$name: out of time (FRESH_TIMEOUT=${FRESH_TIMEOUT:-1500} s)"
  fi
  [ "$rc" -eq 0 ] || die "$name (exit $rc)"
}

# ---- debootstrap ----------------------------------------------------------------------
boot=(debootstrap --variant=minbase "$suite" "$root" "$mirror")
if [ -n "${FRESH_TARBALL:-}" ]; then
  if [ ! -s "$FRESH_TARBALL" ]; then
    mkdir "$work/tarball-root"
    step "debootstrap --make-tarball $FRESH_TARBALL" \
      debootstrap --variant=minbase --make-tarball="$FRESH_TARBALL" "$suite" "$work/tarball-root" "$mirror"
  fi
  step "debootstrap (minbase $suite, from $FRESH_TARBALL)" \
    debootstrap --variant=minbase --unpack-tarball="$FRESH_TARBALL" "$suite" "$root" "$mirror"
else
  step "debootstrap (minbase $suite from $mirror)" "${boot[@]}"
fi

# apt sources as on this machine: bookworm, bookworm-updates, bookworm-security
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
# no init runs in a chroot: packages must not try to start services
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# ---- the clean checkout and ../shared/data --------------------------------------------
head=$(git -C "$repo" rev-parse HEAD)
say "exporting HEAD $(git -C "$repo" log -1 --format='%h %s' HEAD)"
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  echo "note: uncommitted changes in $repo are not part of this test (it tests HEAD $head)"
fi
mkdir -p "$root/work/sscor" "$root/work/shared"
git -C "$repo" archive --format=tar "$head" | tar -x -C "$root/work/sscor" \
  || die "git archive HEAD into the root"
cp -a "$repo/../shared/data" "$root/work/shared/data" || die "copying ../shared/data into the root"

# The README's first two ```sh blocks, verbatim.
readme_block() {
  awk -v want="$1" '
    /^```sh[[:space:]]*$/ { n++; inblock = (n == want); next }
    /^```[[:space:]]*$/ { if (inblock) exit; next }
    inblock { print }' "$root/work/sscor/README.md"
}
cmds=()
for n in 1 2; do
  block=$(readme_block "$n")
  [ -n "$block" ] || die "README.md has no ${n}. \`\`\`sh block"
  # xtrace with timestamps on fd 9 times each command of the block without changing it
  {
    echo 'cd /work/sscor'
    # shellcheck disable=SC2016 # expanded by the shell in the root
    echo 'exec 9>>/work/readme_'"$n"'.trace; BASH_XTRACEFD=9; PS4='\''+ $EPOCHREALTIME '\''; set -x'
    printf '%s\n' "$block"
  } >"$root/work/readme_$n.sh"
  cmds[n]=$block
done

# ---- mounts ---------------------------------------------------------------------------
mount_in_root() { # mount ARGS... TARGET
  local target=${*: -1}
  mount "$@" || die "mount $*"
  mounts+=("$target")
  mount --make-private "$target" 2>/dev/null || true
}
mount_in_root -t proc proc "$root/proc"
mount_in_root -t sysfs sysfs "$root/sys"
mount_in_root --bind /dev "$root/dev"
mount_in_root --bind /dev/pts "$root/dev/pts"
mount_in_root -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"

# a login-like, clean environment: nothing of this machine's leaks in
in_root=(chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8
  TERM="${TERM:-dumb}" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
"${in_root[@]}" /bin/true </dev/null || die "chroot into the new root"

# ---- the README, as written -----------------------------------------------------------
echo
echo "README command 1 (in /work/sscor, as root, no sudo):"
printf '  %s\n' "${cmds[1]}"
echo "README command 2:"
printf '  %s\n' "${cmds[2]}"
for n in 1 2; do
  step --trace "$n" "README command $n: ${cmds[n]}" "${in_root[@]}" bash -e "/work/readme_$n.sh"
done
[ -s "$root/work/sscor/out/brain_corrected.tif" ] || die "README command 1 left no out/brain_corrected.tif"
