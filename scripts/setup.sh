#!/usr/bin/env bash
# Install what extframe needs on Debian 12, and nothing that is already there.
# Safe to run any number of times: each step checks before it acts.
#
#   scripts/setup.sh            Debian packages, bpffs, the virtual environment,
#                               the patched Open vSwitch (ovs_patches/build.sh)
#
# Environment:
#   EXTFRAME_VENV   where the virtual environment lives (default: .venv)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${EXTFRAME_VENV:-$here/.venv}
stamps=$here/.stamps
mkdir -p "$stamps"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Debian packages. Keep this list in step with README.md ("What set-up
# installs"). python3-bpfcc is Debian's bcc; never the PyPI package "bcc".
# netsniff-ng (trafgen) and python3-matplotlib are for `make bench`; strace
# lets a test count the bpf() calls of one command.
packages=(
    clang llvm libbpf-dev bpftool
    python3-bpfcc python3-venv python3-pip
    iproute2 iputils-ping ethtool procps tcpdump tshark libpcap0.8 strace
    openvswitch-source autoconf automake libtool
    netsniff-ng python3-matplotlib
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "missing Debian packages: ${missing[*]}; run this as root (or: sudo apt-get install ${missing[*]})"
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages present"
fi

# bpffs: programs and maps are pinned under /sys/fs/bpf/extframe.
if [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) != "bpf_fs" ]]; then
    if [[ $(id -u) -eq 0 ]]; then
        say "mounting bpffs at /sys/fs/bpf"
        mkdir -p /sys/fs/bpf
        mount -t bpf bpf /sys/fs/bpf || die "could not mount bpffs at /sys/fs/bpf"
    else
        say "warning: bpffs is not mounted at /sys/fs/bpf and only root can mount it"
    fi
else
    say "bpffs mounted at /sys/fs/bpf"
fi

# The virtual environment comes from Debian's own interpreter, with the
# system site-packages visible, so that Debian's bcc imports.
if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import bcc' 2>/dev/null; then
    say "creating the virtual environment in $venv"
    if [[ -e $venv && ! -f $venv/pyvenv.cfg ]]; then
        die "$venv exists and is not a virtual environment; move it away or set EXTFRAME_VENV"
    fi
    rm -rf "$venv"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
    rm -f "$stamps/pip"
fi

# Reinstall the package only when its metadata changed.
want=$(sha256sum "$here/pyproject.toml" | cut -d' ' -f1)
if [[ ! -f $stamps/pip || $(cat "$stamps/pip") != "$want" ]]; then
    say "installing extframe and its Python dependencies"
    "$venv/bin/python" -m pip install --quiet -e "$here[test]"
    echo "$want" > "$stamps/pip"
else
    say "Python dependencies up to date"
fi

# The patched Open vSwitch, built once per patch series (ovs_patches/build.sh
# keys its cache by the series' hash, so this costs nothing the second time).
bash "$here/ovs_patches/build.sh" >/dev/null || die "building the patched Open vSwitch failed (see above)"
