#!/usr/bin/env bash
# Build Open vSwitch 3.1.0 from Debian's openvswitch-source with the patch
# series in this folder, into a cache keyed by the hash of the tarball, the
# series and this script, so that a second run costs nothing.
#
#   ovs_patches/build.sh            build if needed; print the build folder
#   ovs_patches/build.sh --where    print the build folder, build nothing
#                                   (exit 1 if it is not built)
#
# The build folder holds the patched source tree, built (its tests/testsuite
# runs the series' autotests), and the installed programs under install/:
# install/sbin/ovs-vswitchd, install/bin/ovs-vsctl, ovs-ofctl, ovs-appctl...
#
# Environment:
#   EXTFRAME_OVS_CACHE  where builds are kept (default /var/cache/extframe/ovs
#                       for root, else ~/.cache/extframe/ovs)
#   OVS_TARBALL         the source (default: Debian's openvswitch-source)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $(id -u) -eq 0 ]]; then
    cache=${EXTFRAME_OVS_CACHE:-/var/cache/extframe/ovs}
else
    cache=${EXTFRAME_OVS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/extframe/ovs}
fi
tarball=${OVS_TARBALL:-/usr/src/openvswitch/openvswitch.tar.gz}

say() { printf 'ovs-build: %s\n' "$*" >&2; }
die() { printf 'ovs-build: error: %s\n' "$*" >&2; exit 2; }

[[ -f $tarball ]] || die "$tarball is missing: install Debian's openvswitch-source (apt-get install openvswitch-source)"
[[ -f $here/series ]] || die "$here/series is missing"

mapfile -t patches < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/series")
for p in "${patches[@]}"; do
    [[ -f $here/$p ]] || die "patch $p is listed in series but $here/$p does not exist"
done

key=$({
    sha256sum < "$tarball"
    for p in "${patches[@]}"; do printf '%s\n' "$p"; sha256sum < "$here/$p"; done
    sha256sum < "${BASH_SOURCE[0]}"
} | sha256sum | cut -c1-16)
dest=$cache/$key

if [[ ${1:-} == --where ]]; then
    [[ -f $dest/.complete ]] || exit 1
    echo "$dest"
    exit 0
fi
if [[ -f $dest/.complete ]]; then
    say "patched Open vSwitch is up to date ($dest)"
    echo "$dest"
    exit 0
fi

# An earlier run that stopped half-way leaves no stamp: start it again.
rm -rf "$dest"
mkdir -p "$dest"
log=$dest/build.log
fail() {
    say "error: $1 failed; the last lines of $log:"
    tail -n 25 "$log" >&2
    exit 2
}

say "[1/5] extracting $tarball into $dest/src"
mkdir -p "$dest/src"
tar xzf "$tarball" -C "$dest/src" --strip-components=1

say "[2/5] applying ${#patches[@]} patches"
for p in "${patches[@]}"; do
    if ! patch -d "$dest/src" -p1 --batch --forward --silent < "$here/$p" >> "$log" 2>&1; then
        say "error: patch $p does not apply to $tarball; see $log"
        exit 2
    fi
    say "      $p"
done

jobs=$(nproc)
# The tools' temporary files (GNU make leaves one Gm* file per build) go to
# a folder of the build's own, removed when it is done, not to /tmp.
export TMPDIR=$dest/tmp
mkdir -m 700 "$TMPDIR"
say "[3/5] regenerating the build system (the series adds files)"
(cd "$dest/src" && autoreconf --install --force) >> "$log" 2>&1 || fail "autoreconf"
say "[4/5] configuring"
(cd "$dest/src" && ./configure --prefix="$dest/install" --localstatedir="$dest/var" \
    --sysconfdir="$dest/etc" --enable-silent-rules) >> "$log" 2>&1 || fail "configure"
say "[5/5] building with $jobs jobs (about 3 minutes on 2 cores)"
(cd "$dest/src" && make -j"$jobs" && make install) >> "$log" 2>&1 || fail "make"
rm -rf "$TMPDIR"

touch "$dest/.complete"
say "built $dest"
echo "$dest"
