#!/bin/sh
# contrib/install-deps.sh: installs every Debian 12 package the build, the tests and the demo need.
#
# Run as root. Does nothing (and needs no network) when every package is
# already installed and every target library downloaded; otherwise
# apt-get update + install (+ download), non-interactively.
set -eu

# build: compiler, autotools, libraries
# tests: cmocka, the kernel tools the namespace tests drive, the traffic
#        tool's interpreter, distcheck's xz, man page and shell linting,
#        the Debian package build and lint, and logrotate to check its
#        rule (contrib/test_deb.sh)
# seccomp: C cross compilers and libraries for armhf, mips (o32) and i386,
#        and qemu-user, with which tests/unit/test_seccomp_arch.sh checks
#        the --seccomp allowlist against glibc on those architectures
# cross: C cross compilers for s390x (big-endian) and armhf, with which
#        contrib/cross-check.sh builds the daemon and its unit tests and
#        runs them under qemu-user; the target libraries they link are
#        downloaded, not installed (see CROSS_DEBS below)
# fuzz:  clang with libFuzzer and the sanitizer runtimes (--enable-fuzzing)
# e2e:   the real services and BitTorrent clients of tests/e2e (each run
#        with its own configuration inside the lab's namespaces; the host
#        instances the packages would start are kept from starting, below);
#        Chromium and Node.js for the WebTorrent and WebRTC cases, with npm
#        (Debian's, unless the installed nodejs brings its own) for their
#        packages (E2E_NODE below)
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
logrotate
qemu-system-x86
gcc-arm-linux-gnueabihf
libc6-dev-armhf-cross
gcc-mips-linux-gnu
libc6-dev-mips-cross
gcc-i686-linux-gnu
libc6-dev-i386-cross
qemu-user
gcc-s390x-linux-gnu
libc6-dev-s390x-cross
clang
libclang-rt-14-dev
opentracker
transmission-daemon
transmission-cli
aria2
mktorrent
nginx
openssh-server
openssh-client
dnsmasq
curl
openssl
ca-certificates
chromium
nodejs
"

# The e2e lab's npm packages (tests/e2e/webtorrent): bittorrent-tracker and
# ws exactly as tests/e2e/webtorrent/package-lock.json pins them, installed
# with npm ci (no install scripts run) into E2E_NODE, and the browser
# bundle of webtorrent from the pinned version's published tarball, checked
# against its integrity. Outside the tree and outside npm's global prefix:
# nothing else on the machine sees them. A stamp file names what is
# installed; when it matches, nothing is fetched.
E2E_NODE=${BTBLOCKD_E2E_NODE:-/opt/btblockd-e2e}
WEBTORRENT_VERSION=3.0.21
WEBTORRENT_INTEGRITY=sha512-PFgLphma0dsUWmbWrZ016Cja+j+3D3DXuhk09A5u9qVAzH1T4Vj1VZd8j+zb8sDwPv7NA7+qgPtDEN4iFd6wdw==
E2E_NODE_SRC="$(cd "$(dirname "$0")/../tests/e2e/webtorrent" && pwd)"

# The target libraries of contrib/cross-check.sh, for each architecture in
# CROSS_ARCHES: the -dev packages, their run-time libraries and what those
# link (libpcap's D-Bus, systemd's compression and crypto), and the C
# library that qemu-user runs them with. Multiarch cannot co-install them
# with the host's (the target's versions differ where a security update
# exists for one architecture only), so they are downloaded with
# `apt-get download` into $CROSS_CACHE/ARCH, one version of each, and
# cross-check.sh unpacks them into a root of its own (dpkg-deb -x).
CROSS_ARCHES="s390x armhf"
CROSS_DEBS="
libc6
libgcc-s1
libnetfilter-queue-dev
libnetfilter-queue1
libnfnetlink-dev
libnfnetlink0
libmnl-dev
libmnl0
libjansson-dev
libjansson4
libpcap0.8-dev
libpcap0.8
libdbus-1-dev
libdbus-1-3
libsystemd0
libcap2
libgcrypt20
libgpg-error0
liblz4-1
liblzma5
libzstd1
libcmocka-dev
libcmocka0
"
CROSS_CACHE=${BTBLOCKD_CROSS_CACHE:-/var/cache/btblockd-cross}

missing=""
for pkg in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	if [ "$status" != "install ok installed" ]; then
		missing="$missing $pkg"
	fi
done
# Debian's nodejs comes without npm; another build of it may bring its own.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
e2e_node_stamp="webtorrent@$WEBTORRENT_VERSION $(sha256sum <"$E2E_NODE_SRC/package-lock.json" | cut -d' ' -f1)"
e2e_node_todo=""
[ "$(cat "$E2E_NODE/.installed" 2>/dev/null)" = "$e2e_node_stamp" ] || e2e_node_todo=1
# cross_missing ARCH: the CROSS_DEBS not downloaded for ARCH yet.
cross_missing() {
	for pkg in $CROSS_DEBS; do
		found=
		for deb in "$CROSS_CACHE/$1/${pkg}_"*"_$1.deb"; do
			[ -f "$deb" ] && found=1
		done
		[ -n "$found" ] || printf ' %s:%s' "$pkg" "$1"
	done
}
cross_todo=""
for arch in $CROSS_ARCHES; do
	[ -z "$(cross_missing "$arch")" ] || cross_todo="$cross_todo $arch"
done

if [ -z "$missing" ] && [ -z "$cross_todo" ] && [ -z "$e2e_node_todo" ]; then
	echo "install-deps: all $(echo "$PACKAGES" | wc -w) packages already installed," \
		"target libraries for $CROSS_ARCHES in $CROSS_CACHE, the e2e lab's npm packages in $E2E_NODE"
	exit 0
fi

[ -z "$missing" ] || echo "install-deps: missing:$missing"
[ -z "$cross_todo" ] || echo "install-deps: target libraries to download for:$cross_todo"
[ -z "$e2e_node_todo" ] || echo "install-deps: the e2e lab's npm packages to install in $E2E_NODE"
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: must run as root to install them" >&2
	exit 1
fi

# Installing a service package starts its service on the host (nginx on
# port 80, sshd, dnsmasq, transmission-daemon): invoke-rc.d asks
# /usr/sbin/policy-rc.d first, and exit status 101 means "not allowed".
# The e2e tests run their own instances in namespaces and never use the
# host's. An existing policy-rc.d (e.g. a container's) is left alone.
POLICY=/usr/sbin/policy-rc.d
policy_added=0
remove_policy() {
	if [ "$policy_added" = 1 ]; then
		rm -f "$POLICY"
		policy_added=0
	fi
}
trap remove_policy EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# contrib/install-deps.sh: no service starts during the install\nexit 101\n' >"$POLICY"
	chmod 755 "$POLICY"
	policy_added=1
fi

export DEBIAN_FRONTEND=noninteractive
# apt only knows the target architectures' packages once dpkg does.
for arch in $cross_todo; do
	dpkg --print-foreign-architectures | grep -qx "$arch" || dpkg --add-architecture "$arch"
done
# Another apt run (e.g. a second test command) holds the lock: wait for it.
apt-get -o DPkg::Lock::Timeout=300 update
if [ -n "$missing" ]; then
	npm=""
	command -v npm >/dev/null 2>&1 || npm=npm
	# shellcheck disable=SC2086 # one word per package
	apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $PACKAGES $npm
fi
remove_policy
# The npm packages, built aside and put in place whole.
if [ -n "$e2e_node_todo" ]; then
	rm -rf "$E2E_NODE.new"
	mkdir -p "$E2E_NODE.new/webtorrent"
	cp "$E2E_NODE_SRC/package.json" "$E2E_NODE_SRC/package-lock.json" "$E2E_NODE.new/"
	(cd "$E2E_NODE.new" &&
		npm ci --ignore-scripts --no-audit --no-fund --cache "$E2E_NODE.new/.npm-cache" &&
		npm pack "webtorrent@$WEBTORRENT_VERSION" --cache "$E2E_NODE.new/.npm-cache" >/dev/null)
	tarball="$E2E_NODE.new/webtorrent-$WEBTORRENT_VERSION.tgz"
	got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
	if [ "$got" != "$WEBTORRENT_INTEGRITY" ]; then
		echo "install-deps: $tarball has integrity $got, not $WEBTORRENT_INTEGRITY" >&2
		exit 1
	fi
	tar -xzf "$tarball" -C "$E2E_NODE.new/webtorrent" --strip-components=2 package/dist/webtorrent.min.js
	rm -rf "$tarball" "$E2E_NODE.new/.npm-cache"
	echo "$e2e_node_stamp" >"$E2E_NODE.new/.installed"
	rm -rf "$E2E_NODE"
	mv "$E2E_NODE.new" "$E2E_NODE"
fi
# Each architecture's set is replaced whole: a half download never stays.
for arch in $cross_todo; do
	mkdir -p "$CROSS_CACHE"
	rm -rf "$CROSS_CACHE/$arch.new"
	mkdir "$CROSS_CACHE/$arch.new"
	# shellcheck disable=SC2046,SC2086 # one word per package
	(cd "$CROSS_CACHE/$arch.new" &&
		apt-get -o APT::Sandbox::User=root download $(printf " %s:$arch" $CROSS_DEBS))
	rm -rf "${CROSS_CACHE:?}/$arch"
	mv "$CROSS_CACHE/$arch.new" "$CROSS_CACHE/$arch"
done
echo "install-deps: done"
