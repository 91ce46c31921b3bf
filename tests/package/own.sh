# tests/package/own.sh - sourced by tests/package/test.sh and tests/quickstart.sh:
# what of a zonerw is on this machine, and whether these tests own it.
#
# Both tests install the zonerw package only when nothing of a zonerw is here
# (zonerw_present prints nothing), mark what they installed with
# $owned_marker, and purge it again only while that marker is there.
# Also their output helpers: step, ok, fail.

step() { printf '\n==> %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

# The package's state in dpkg's database: "" when dpkg never heard of it,
# else installed, config-files, half-installed, ...
pkg_status() { dpkg-query -W -f='${db:Status-Status}' zonerw 2>/dev/null || true; }

# A dpkg interrupted half-way leaves the package half-installed, which a
# plain purge refuses ("reinstall it before attempting a removal").
purge_package() {
    local status
    status=$(pkg_status)
    if [[ -n $status && $status != not-installed ]]; then
        dpkg --purge zonerw || dpkg --purge --force-remove-reinstreq zonerw
    fi
}

# Present while (and only while) this test owns the zonerw on this machine.
owned_marker=/var/tmp/zonerw-package-test.owned

# What of a zonerw is on this machine, one item per line ("" = nothing).
zonerw_present() {
    local status
    status=$(pkg_status)
    if [[ -n $status && $status != not-installed ]]; then echo "dpkg status of zonerw: $status"; fi
    if [[ -e /etc/zonerw ]]; then echo "/etc/zonerw exists"; fi
    if [[ -e /var/lib/zonerw ]]; then echo "/var/lib/zonerw exists"; fi
    if [[ -n $(ls -A /var/lib/nsd/zonerw 2>/dev/null) ]]; then echo "/var/lib/nsd/zonerw is not empty"; fi
    if getent passwd zonerw >/dev/null; then echo "a user zonerw exists"; fi
    return 0
}

skip_if_foreign() {
    local present
    present=$(zonerw_present)
    if [[ -n $present ]]; then
        echo "SKIPPED: a zonerw package/config that this test did not install is present (${present//$'\n'/; }); not touching it"
        exit 0
    fi
}

