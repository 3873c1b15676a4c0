#!/bin/sh
# test_detection_ambient.sh: test_detection again as the daemon runs under procd or systemd with a user of its own: not root, CAP_NET_ADMIN ambient.
#
# Ambient capabilities survive execve, so this is where a detect-exec
# program could inherit CAP_NET_ADMIN; test_detection's hook checks that
# it holds it in no set. Needs root (to become that user) and setpriv.
set -eu
builddir=${BTBLOCKD_BUILDDIR:-.}
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null 2>&1; then
	echo "*** SKIP: test_detection_ambient.sh: needs root and setpriv (util-linux) ***" >&2
	exit 77
fi
exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin \
	--ambient-caps=+net_admin "$builddir/tests/unit/test_detection"
