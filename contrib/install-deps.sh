#!/bin/sh
# contrib/install-deps.sh: installs every Debian 12 package the build, the tests and the demo need.
#
# Run as root. Does nothing (and needs no network) when every package is
# already installed; otherwise apt-get update + install, non-interactively.
set -eu

# build: compiler, autotools, libraries
# tests: cmocka, the kernel tools the namespace tests drive, the traffic
#        tool's interpreter, distcheck's xz, man page and shell linting,
#        the Debian package build and lint, and logrotate to check its
#        rule (contrib/test_deb.sh)
# seccomp: C cross compilers and libraries for armhf, mips (o32) and i386,
#        and qemu-user, with which tests/unit/test_seccomp_arch.sh checks
#        the --seccomp allowlist against glibc on those architectures
# fuzz:  clang with libFuzzer and the sanitizer runtimes (--enable-fuzzing)
# e2e:   the real services and BitTorrent clients of tests/e2e (each run
#        with its own configuration inside the lab's namespaces; the host
#        instances the packages would start are kept from starting, below)
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
# Another apt run (e.g. a second test command) holds the lock: wait for it.
apt-get -o DPkg::Lock::Timeout=300 update
# shellcheck disable=SC2086 # one word per package
apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends $PACKAGES
remove_policy
echo "install-deps: done"
