#!/usr/bin/env bash
# tests/package/test.sh - build the Debian package and install, check, remove
# and purge it on this machine (run by scripts/test; needs root for dpkg -i).
#
# Builds target/debian/zonerw_*.deb with scripts/package, then:
#   dpkg -i: zonerw --version, man -w, the conffile, `zonerw check` on it (as
#     root and as zonerw: it fails, no pool configured), the user zonerw (in group nsd if that exists), its
#     directories, the timer neither enabled nor started, systemd-analyze
#     verify of the installed units (when systemd-analyze is there)
#   dpkg -i again (a reinstall runs the postinst again)
#   dpkg -r: the binary goes, the (edited) conffile, user and state stay
#   dpkg --purge: conffile, state, user and group go; a zones directory with
#     files in it stays
# Passes with and without NSD installed.
#
# It never touches a zonerw it did not install itself: if a zonerw package is
# known to dpkg (any status but not-installed), or /etc/zonerw, /var/lib/zonerw,
# a non-empty /var/lib/nsd/zonerw or a user zonerw exists, and this test did
# not create them, it prints SKIPPED and exits 0. What it installs, it marks
# with /var/tmp/zonerw-package-test.owned (written just before its first dpkg -i, removed after its
# purge); a leftover of an interrupted run of this test is recognised by that
# marker and purged first. The package is purged again on exit, whatever
# happened, but only while the marker says the test owns it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIPPED: package test needs root (dpkg -i)"
    exit 0
fi

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH


# step, ok, fail, pkg_status, purge_package, owned_marker, zonerw_present, skip_if_foreign:
# shared with tests/quickstart.sh.
. tests/package/own.sh

if [[ -n $(zonerw_present) ]]; then
    if [[ -f $owned_marker ]]; then
        step "purging what an interrupted run of this test left ($(zonerw_present | paste -sd ';' -))"
        purge_package
        rm -f /var/lib/nsd/zonerw/zz-package-test.zone
        rmdir /var/lib/nsd/zonerw 2>/dev/null || true
        # The purge removes all of it; whatever is left is not ours.
        if [[ -z $(zonerw_present) ]]; then rm -f "$owned_marker"; fi
    fi
    skip_if_foreign
fi
# Nothing of zonerw here: a marker left now is stale.
rm -f "$owned_marker"

test_zone=/var/lib/nsd/zonerw/zz-package-test.zone
cleanup() {
    local rc=$?
    set +e
    if [[ -f $owned_marker ]]; then
        if [[ $rc -ne 0 ]]; then
            echo "tests/package: failed (exit $rc); purging the package" >&2
        fi
        purge_package >/dev/null 2>&1
        rm -f "$test_zone"
        rmdir /var/lib/nsd/zonerw 2>/dev/null
        if [[ -z $(zonerw_present) ]]; then rm -f "$owned_marker"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
# Without these, bash killed by Ctrl-C or SIGTERM skips the EXIT trap.
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$SECONDS

step "scripts/package"
t=$SECONDS
scripts/package
echo "scripts/package took $((SECONDS - t)) s"
debs=(target/debian/zonerw_*.deb)
[[ ${#debs[@]} -eq 1 && -f ${debs[0]} ]] || fail "expected one target/debian/zonerw_*.deb, found: ${debs[*]}"
deb=${debs[0]}

step "contents of $deb"
dpkg-deb -c "$deb"
contents=$(dpkg-deb -c "$deb" | awk '{print $NF}')
for path in ./usr/bin/zonerw \
    ./usr/share/man/man8/zonerw.8.gz ./usr/share/man/man5/zonerw.toml.5.gz \
    ./etc/zonerw/zonerw.toml \
    ./usr/share/doc/zonerw/copyright \
    ./usr/share/doc/zonerw/examples/zonerw.toml.example \
    ./usr/share/doc/zonerw/examples/example.com.zone \
    ./usr/lib/systemd/system/zonerw.service ./usr/lib/systemd/system/zonerw.timer \
    ./usr/share/bash-completion/completions/zonerw \
    ./usr/share/zsh/vendor-completions/_zonerw \
    ./usr/share/fish/vendor_completions.d/zonerw.fish; do
    grep -qxF "$path" <<<"$contents" || fail "$deb does not contain $path"
done
ok "the package has the binary, both man pages (gzipped), the conffile, the examples, the units and the completions"
recommends=$(dpkg-deb -f "$deb" Recommends)
[[ ", $recommends," == *", nsd | knot | bind9,"* && ", $recommends," == *", ldnsutils,"* ]] ||
    fail "the package should recommend nsd | knot | bind9 (the primary it drives) and ldnsutils (for signed zones), not: $recommends"
ok "Recommends: $recommends"
version=$(dpkg-deb -f "$deb" Version)
upstream=${version%-*}

# The packaged config is a hand-made copy of zonerw.toml.example with every
# pool commented out: warn when the example grows a key the copy lacks.
keys() { sed -nE 's/^[[:space:]]*#?[[:space:]]*(\[{1,2}[a-z.-]+\]{1,2}|[a-z][a-z0-9-]*)[[:space:]]*(=.*)?$/\1/p' "$1" | sort -u; }
drift=$(comm -23 <(keys zonerw.toml.example) <(keys contrib/debian/zonerw.toml))
if [[ -n $drift ]]; then
    echo "WARNING: contrib/debian/zonerw.toml lacks what zonerw.toml.example has: ${drift//$'\n'/ }" >&2
fi

step "dpkg -i $deb"
# Someone may have installed zonerw while the package was being built.
skip_if_foreign
echo "tests/package/test.sh (pid $$) installed zonerw on $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$owned_marker"
dpkg -i "$deb"
[[ $(pkg_status) == installed ]] || fail "dpkg says the package is '$(pkg_status)', not installed"

step "checks of the installed package"
out=$(/usr/bin/zonerw --version)
[[ $out == "zonerw $upstream" ]] || fail "/usr/bin/zonerw --version printed '$out', not 'zonerw $upstream'"
ok "/usr/bin/zonerw --version: $out"

# Minimal images may keep dpkg from installing man pages at all.
if grep -rhsE '^[[:space:]]*path-exclude[[:space:]=]+/usr/share/man' /etc/dpkg/dpkg.cfg.d/ >/dev/null; then
    echo "NOTE: /etc/dpkg/dpkg.cfg.d/ excludes /usr/share/man from installs: man -w not tried; the package contents above have both man pages"
else
    if ! command -v man >/dev/null; then
        step "installing man-db (no man command)"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q man-db
    fi
    for page in 8:zonerw 5:zonerw.toml; do
        want=/usr/share/man/man${page%%:*}/${page#*:}.${page%%:*}.gz
        found=$(man -aw "${page#*:}" 2>/dev/null || true)
        grep -qxF "$want" <<<"$found" || fail "man -w ${page#*:} found '${found//$'\n'/ }', not $want"
        ok "man -w ${page#*:}: $want"
    done
fi

conffiles=$(dpkg-query -W -f='${Conffiles}\n' zonerw)
grep -qE '^ /etc/zonerw/zonerw\.toml [0-9a-f]{32}$' <<<"$conffiles" || fail "/etc/zonerw/zonerw.toml is not a conffile: '$conffiles'"
ok "conffile:${conffiles}"
cmp /etc/zonerw/zonerw.toml contrib/debian/zonerw.toml || fail "/etc/zonerw/zonerw.toml is not contrib/debian/zonerw.toml"

passwd=$(getent passwd zonerw) || fail "no user zonerw"
IFS=: read -r _ _ uid gid _ home shell <<<"$passwd"
[[ $uid -lt 1000 && $home == /var/lib/zonerw && $shell == /usr/sbin/nologin ]] ||
    fail "user zonerw is not a system user with home /var/lib/zonerw and no shell: $passwd"
[[ $(getent group zonerw | cut -d: -f3) == "$gid" ]] || fail "the primary group of zonerw is not the group zonerw"
groups=" $(id -Gn zonerw) "
if getent group nsd >/dev/null; then
    [[ $groups == *" nsd "* ]] || fail "zonerw is not in the group nsd: $groups"
    zones_group=nsd
else
    echo "NOTE: no group nsd here (NSD not installed)"
    zones_group=zonerw
fi
ok "user: $passwd; groups:$groups"

check_dir() { # DIR OWNER:GROUP MODE
    local got
    got=$(stat -c '%U:%G %a' "$1" 2>/dev/null) || fail "$1 does not exist"
    [[ $got == "$2 $3" ]] || fail "$1 is $got, not $2 $3"
    ok "$1: $got"
}
check_dir /var/lib/zonerw zonerw:zonerw 755
check_dir /var/lib/nsd/zonerw "zonerw:$zones_group" 755
check_dir /etc/zonerw/templates root:root 755
runuser -u zonerw -- test -w /var/lib/zonerw || fail "zonerw cannot write /var/lib/zonerw"
runuser -u zonerw -- test -w /var/lib/nsd/zonerw || fail "zonerw cannot write /var/lib/nsd/zonerw"

# The shipped config has no pool: check says so (monitoring must not show green).
for user in root zonerw; do
    rc=0
    out=$(runuser -u "$user" -- /usr/bin/zonerw -c /etc/zonerw/zonerw.toml check 2>&1) || rc=$?
    [[ $rc -eq 1 ]] || fail "as $user, zonerw check of the shipped config: exit $rc, not 1: $out"
    grep -qxF 'FAIL  config /etc/zonerw/zonerw.toml: no pool configured' <<<"$out" ||
        fail "as $user, zonerw check of the shipped config does not say 'no pool configured': $out"
    ok "as $user, zonerw check of the shipped config: exit 1, no pool configured"
done
# What the timer would do before the admin sets zonerw up: nothing, exit 2.
rc=0
out=$(runuser -u zonerw -- /usr/bin/zonerw -c /etc/zonerw/zonerw.toml 2>&1) || rc=$?
[[ $rc -eq 2 ]] || fail "a run with the shipped config exited $rc, not 2: $out"
ok "a run with the shipped config does nothing: exit 2: $out"

# Knot DNS and BIND 9 as the primary: the installed zonerw finds each kind's tools under
# cron's PATH (/usr/bin:/bin; knotc and rndc live in /usr/sbin) and says which server it
# asked. No daemon is started: check reports that nothing answers.
missing_servers=()
for tool in knotc kzonecheck rndc named-checkzone; do
    PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null 2>&1 || missing_servers+=("$tool")
done
if ((${#missing_servers[@]} > 0)); then
    step "installing knot and bind9 (missing: ${missing_servers[*]})"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q knot knot-dnssecutils bind9 bind9-utils
fi
kinds_dir=$(mktemp -d /tmp/zonerw-package-kinds.XXXXXX)
chmod 0755 "$kinds_dir"
mkdir "$kinds_dir/templates" "$kinds_dir/zones"
printf '$TTL 60\n@ IN SOA ns1 hm ( @serial@ 1 2 3 4 )\n  IN NS ns1\nns1 IN A @IP@\n' \
    >"$kinds_dir/templates/kinds.test.zone"
for kind in knot:knotc:kzonecheck:"Knot DNS" bind:rndc:named-checkzone:BIND; do
    IFS=: read -r name control checker server <<<"$kind"
    printf '%s\n' "templates = \"$kinds_dir/templates\"" "zones = \"$kinds_dir/zones\"" \
        "state = \"$kinds_dir/state-$name\"" "[server]" "kind = \"$name\"" \
        "control = [\"$control\", \"-s\", \"$kinds_dir/nothing-here\"]" "[[pool]]" \
        "name = \"web\"" "[[pool.server]]" "name = \"main\"" "ipv4 = \"192.0.2.1\"" \
        >"$kinds_dir/$name.toml"
    rc=0
    out=$(runuser -u zonerw -- env PATH=/usr/bin:/bin /usr/bin/zonerw -c "$kinds_dir/$name.toml" check 2>&1) || rc=$?
    if [[ $rc -ne 1 ]]; then
        rm -rf "$kinds_dir"
        fail "check with kind $name: exit $rc, not 1 (nothing answers): $out"
    fi
    for want in "^ok    $control: /usr/sbin/$control " "^ok    $checker: /usr/bin/$checker\$" \
        "^ok    $checker kinds.test: passes " "^FAIL  server: $server \\($control status\\): "; do
        if ! grep -qE "$want" <<<"$out"; then
            rm -rf "$kinds_dir"
            fail "check with kind $name lacks /$want/: $out"
        fi
    done
    ok "as zonerw under cron's PATH, check with [server] kind = \"$name\": finds $control and $checker, $checker passes the template, $server does not answer"
done
rm -rf "$kinds_dir"

wants=$(find /etc/systemd/system -name 'zonerw.*' 2>/dev/null)
[[ -z $wants ]] || fail "the package enabled a unit: $wants"
ok "zonerw.timer and zonerw.service are not enabled"

if command -v systemd-analyze >/dev/null; then
    step "systemd-analyze verify /usr/lib/systemd/system/zonerw.service /usr/lib/systemd/system/zonerw.timer"
    if ! out=$(systemd-analyze verify /usr/lib/systemd/system/zonerw.service /usr/lib/systemd/system/zonerw.timer 2>&1); then
        fail "systemd-analyze verify: $out"
    fi
    [[ -z $out ]] || fail "systemd-analyze verify complained: $out"
    ok "systemd-analyze verify: no complaints"
    # For the record: systemd's own rating of the sandbox (does not fail the test).
    if out=$(systemd-analyze security --offline=true /usr/lib/systemd/system/zonerw.service 2>&1); then
        echo "systemd-analyze security: $(grep -F 'Overall exposure' <<<"$out")"
    fi
else
    echo "NOTE: no systemd-analyze here: units not verified"
fi

step "dpkg -i $deb again (reinstall)"
dpkg -i "$deb"
[[ $(pkg_status) == installed ]] || fail "after a reinstall dpkg says '$(pkg_status)'"
check_dir /var/lib/zonerw zonerw:zonerw 755

step "dpkg -r zonerw"
echo '# edited by tests/package' >>/etc/zonerw/zonerw.toml
dpkg -r zonerw
[[ $(pkg_status) == config-files ]] || fail "after dpkg -r dpkg says '$(pkg_status)', not config-files"
[[ ! -e /usr/bin/zonerw ]] || fail "/usr/bin/zonerw is still there after dpkg -r"
[[ ! -e /usr/lib/systemd/system/zonerw.service ]] || fail "zonerw.service is still there after dpkg -r"
grep -qxF '# edited by tests/package' /etc/zonerw/zonerw.toml || fail "dpkg -r did not keep the edited conffile"
getent passwd zonerw >/dev/null || fail "dpkg -r removed the user zonerw"
[[ -d /var/lib/zonerw ]] || fail "dpkg -r removed /var/lib/zonerw"
ok "dpkg -r removed the binary and the units, kept the edited conffile, the user and /var/lib/zonerw"

step "dpkg --purge zonerw"
# State to remove, and a zone that NSD may serve, to keep.
echo '{}' >/var/lib/zonerw/state.json
if [[ -e $test_zone ]]; then fail "$test_zone exists already"; fi
echo '; tests/package' >"$test_zone"
dpkg --purge zonerw
[[ -z $(pkg_status) || $(pkg_status) == not-installed ]] || fail "after a purge dpkg says '$(pkg_status)'"
for path in /usr/bin/zonerw /etc/zonerw/zonerw.toml /etc/zonerw /var/lib/zonerw; do
    [[ ! -e $path ]] || fail "$path is still there after the purge"
done
! getent passwd zonerw >/dev/null || fail "the user zonerw is still there after the purge"
! getent group zonerw >/dev/null || fail "the group zonerw is still there after the purge"
if getent group nsd >/dev/null; then
    [[ ",$(getent group nsd | cut -d: -f4)," != *,zonerw,* ]] || fail "zonerw is still in the group nsd"
fi
[[ -f $test_zone ]] || fail "the purge removed a zone from /var/lib/nsd/zonerw"
rm -f "$test_zone"
rmdir /var/lib/nsd/zonerw 2>/dev/null || true
ok "the purge removed the binary, the conffile, /etc/zonerw, /var/lib/zonerw, the user and the group, and kept the zones"
rm -f "$owned_marker"

echo
echo "tests/package: all checks passed in $((SECONDS - t0)) s"
