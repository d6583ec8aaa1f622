#!/usr/bin/env bash
# Installs the Debian packages authd needs to build, run and test, skipping
# what is already there so that a second run costs nothing.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libssl-dev openssl libmicrohttpd-dev libgnutls28-dev libsqlite3-dev sqlite3 libpq-dev
	libjansson-dev libargon2-dev libldap-dev libzip-dev libunistring-dev
	check libcurl4-openssl-dev curl
)
if [ "${1:-}" = "--test" ]; then
	packages+=(libclang-rt-14-dev clang wrk procps unzip docker.io slapd ldap-utils)
	# the fault tests step a running server's wall clock with libfaketime's preload
	packages+=(libfaketime)
	# the layout test reads the libraries with binutils' nm (build-essential has it)
	packages+=(python3)
	# promtool, which checks the page of GET /metrics
	packages+=(prometheus)
	# the web page's browser test: Debian's Chromium, NSS's certutil to trust authd's CA,
	# and Node.js (with its npm) for playwright-core
	packages+=(chromium libnss3-tools nodejs)
	# the store's second driver: a throwaway PostgreSQL cluster (initdb, pg_ctl) per suite
	packages+=(postgresql)
	# the load balancer in front of three replicas (integration_cluster_pg, bench_cluster)
	packages+=(haproxy)
	# a real Active Directory: Samba's AD DC, provisioned per suite (samba-tool, the samba
	# daemon, its DC modules, provisioning data and the ACL module provisioning needs), and
	# ldbadd to load a big directory offline
	packages+=(samba samba-ad-provision samba-dsdb-modules samba-vfs-modules ldb-tools)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: need root to install packages (run as root or with sudo)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Packaged daemons (slapd, smbd, nmbd) must not start: the tests start their own on the same
# ports. Without systemd, maintainer scripts ask invoke-rc.d, which obeys policy-rc.d; one that
# refuses every start is put in place for this install only, unless the machine has its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
