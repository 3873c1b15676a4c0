#!/bin/sh
# contrib/install-deps.sh: installs every Debian 12 package the build, the tests and the demo need.
#
# Run as root. Does nothing (and needs no network) when every package is
# already installed; otherwise apt-get update + install, non-interactively.
set -eu

# build: compiler, autotools, libraries
# tests: cmocka, the kernel tools the namespace tests drive, the traffic
#        tool's interpreter, distcheck's xz, man page and shell linting,
#        the Debian package build and lint (contrib/test_deb.sh)
# fuzz:  clang with libFuzzer and the sanitizer runtimes (--enable-fuzzing)
PACKAGES="
build-essential
autoconf
automake
libtool
pkg-config
libnetfilter-queue-dev
libmnl-dev
libnfnetlink-dev
libjansson-dev
libpcap-dev
libcmocka-dev
nftables
iptables
iproute2
socat
python3
procps
xz-utils
mandoc
shellcheck
debhelper
fakeroot
lintian
qemu-system-x86
clang
libclang-rt-14-dev
"

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	echo "install-deps: all $(echo "$PACKAGES" | wc -w) packages already installed"
	exit 0
fi

echo "install-deps: missing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: must run as root to install them" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y --no-install-recommends $PACKAGES
echo "install-deps: done"
