#!/usr/bin/env bash
# Installs the Debian packages listed in .ci/debian-packages that are missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -v '^\s*#' "$here/debian-packages" | sed '/^\s*$/d')
missing=()
for pkg in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
# cups-ipp-utils needs its recommended dbus and avahi-daemon for ippeveprinter
for pkg in "${missing[@]}"; do [ "$pkg" = cups-ipp-utils ] && cmd="$cmd dbus avahi-daemon"; done
if [ "$(id -u)" -ne 0 ]; then
  echo "pmc needs these Debian packages; run as root:" >&2
  echo "  apt-get update && $cmd" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
$cmd -qq
