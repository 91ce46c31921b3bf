#!/usr/bin/env bash
# tests/quickstart.sh - follow the README's quick start literally (run by
# scripts/test; needs root, like the steps it follows).
#
# The README's steps are read from README.md itself, from the fenced blocks
# after the markers `<!-- quickstart: NAME -->`, so the documentation cannot
# drift from the product:
#   install      run as written: scripts/package, apt install ./target/debian/zonerw_*.deb
#   nsd.conf     the NSD fragment for /etc/nsd/nsd.conf.d/zonerw.conf
#   configure    run as written: the example config and template copied into /etc/zonerw
#   first run    run as written: zonerw check and zonerw --force as user zonerw, then dig
#   keys         run as written (in a subshell: it changes directory): ldns-keygen, chown
# then `zonerw adopt` of an existing zone file (a second zone, added to the
# private NSD with nsd-control addzone), the README's keys for signing
# example.com (a `[dnssec]` table appended to the config; delv at the secondary
# must validate), a drain and undrain of the main server
# (what the secondary serves after each), and a failover: the main server stops, a run as user zonerw moves the zone
# to the backup, and the secondary serves the backup's address.
#
# What differs from a real machine, so that the test leaves this one as it
# found it (the system NSD and /etc/nsd are never touched):
#   - NSD is a private primary (run as user nsd, like Debian's, so the control
#     socket has the permissions the README relies on) and a private
#     secondary, on loopback ports, in a temp dir. The README's NSD fragment
#     is used with these substitutions: /run/nsd/nsd.ctl -> the temp dir's
#     socket; `notify: 192.0.2.1` -> the private secondary's port;
#     `provide-xfr: 192.0.2.1` -> 127.0.0.1. zonerw's `[nsd] control` gets
#     `-c` with the private nsd.conf, and dig asks the private primary's port.
#   - "set the main server's ipv4 and check URL and the backup's ipv4" is done
#     with sed on the example's values (127.0.0.1 with a local web server, and
#     127.0.0.2).
#   - Without sudo on the machine, `sudo -u USER` is run as `runuser -u USER --`.
#
# It installs the package only when nothing of a zonerw is on the machine and
# purges it afterwards, with the same ownership marker as tests/package/test.sh
# (tests/package/own.sh); otherwise it prints SKIPPED.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD

if [[ $(id -u) -ne 0 ]]; then
    echo "SKIPPED: the quick start needs root (dpkg, /etc/zonerw, sudo -u zonerw)"
    exit 0
fi
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
for tool in nsd nsd-control dig python3; do
    command -v "$tool" >/dev/null || {
        echo "SKIPPED: $tool is not installed"
        exit 0
    }
done

. tests/package/own.sh

zone_file=/var/lib/nsd/zonerw/example.com.zone
# Copied by the README's configure step: not the package's, so a purge keeps it.
template=/etc/zonerw/templates/example.com.zone
# Written by `zonerw adopt` below, and installed by the run after it.
adopted=/etc/zonerw/templates/example.org.zone
adopted_zone=/var/lib/nsd/zonerw/example.org.zone
W=
declare -a pids=()

# The fenced block after `<!-- quickstart: NAME -->` in README.md.
block() {
    local text
    text=$(awk -v want="<!-- quickstart: $1 -->" '
        $0 == want { found = 1; next }
        found && !inside && /^```/ { inside = 1; next }
        inside && /^```/ { exit }
        inside { print }
    ' README.md)
    [[ -n $text ]] || fail "README.md has no block after '<!-- quickstart: $1 -->'"
    printf '%s\n' "$text"
}

# Run each command line of a block (comments after # are the README's).
run_block() {
    local name=$1 line
    while IFS= read -r line; do
        [[ -n $line ]] || continue
        printf '$ %s\n' "$line"
        eval "$line" || fail "README quick start, block '$name': '$line' failed (exit $?)"
    done < <(block "$name")
}

if ! command -v sudo >/dev/null; then
    sudo() {
        [[ $1 == -u ]] || fail "sudo shim: only 'sudo -u USER ...' is supported"
        local user=$2
        shift 2
        runuser -u "$user" -- "$@"
    }
fi

stop_all() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    pids=()
}

cleanup() {
    local rc=$?
    set +e
    stop_all
    if [[ -n $W && -d $W ]]; then
        if [[ $rc -ne 0 ]]; then
            for log in "$W"/*.log; do
                [[ -f $log ]] && { echo "--- $log"; tail -20 "$log"; }
            done
        fi
        rm -rf "$W"
    fi
    if [[ -f $owned_marker ]]; then
        rm -f "$template" "$adopted"
        rm -rf /etc/zonerw/keys
        purge_package >/dev/null 2>&1
        rm -f "$zone_file" "$adopted_zone"
        rmdir /var/lib/nsd/zonerw 2>/dev/null
        if [[ -z $(zonerw_present) ]]; then rm -f "$owned_marker"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n $(zonerw_present) ]]; then
    if [[ -f $owned_marker ]]; then
        step "purging what an interrupted run of a zonerw test left"
        rm -f "$template" "$adopted"
        rm -rf /etc/zonerw/keys
        purge_package
        rm -f "$zone_file" "$adopted_zone" /var/lib/nsd/zonerw/zz-package-test.zone
        rmdir /var/lib/nsd/zonerw 2>/dev/null || true
        if [[ -z $(zonerw_present) ]]; then rm -f "$owned_marker"; fi
    fi
    skip_if_foreign
fi
rm -f "$owned_marker"
t0=$SECONDS

# A free loopback TCP+UDP port.
free_port() {
    python3 -c 'import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass'
}

# Short: NSD's control socket path must stay under 108 bytes.
W=$(mktemp -d /tmp/zrw-qs.XXXXXX)
chmod 0755 "$W"
primary_port=$(free_port)
secondary_port=$(free_port)
web_port=$(free_port)

step "1. install (README block 'install')"
skip_if_foreign
echo "tests/quickstart.sh (pid $$) installed zonerw on $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$owned_marker"
run_block install
[[ $(pkg_status) == installed ]] || fail "after the install block dpkg says '$(pkg_status)'"
ok "the package is installed"

step "2. NSD (README block 'nsd.conf', on a private primary and secondary)"
mkdir -p "$W/primary" "$W/secondary"
chown nsd:nsd "$W/primary"
block nsd.conf |
    sed -e "s|/run/nsd/nsd.ctl|$W/primary/nsd.ctl|" \
        -e "s|notify: 192\.0\.2\.1 |notify: 127.0.0.1@$secondary_port |" \
        -e "s|provide-xfr: 192\.0\.2\.1 |provide-xfr: 127.0.0.1 |" >"$W/fragment.conf"
grep -q "192.0.2.1" "$W/fragment.conf" && fail "a README address was left in the NSD fragment: $(cat "$W/fragment.conf")"
cat >"$W/primary/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$primary_port
    pidfile: "$W/primary/nsd.pid"
    xfrdfile: "$W/primary/xfrd.state"
    xfrdir: "$W/primary"
    zonelistfile: "$W/primary/zone.list"
    database: ""
    logfile: "$W/primary.log"
    zonesdir: "$W/primary"
    username: nsd
    verbosity: 2
include: "$W/fragment.conf"
EOF
cat >"$W/secondary/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$secondary_port
    pidfile: "$W/secondary/nsd.pid"
    xfrdfile: "$W/secondary/xfrd.state"
    xfrdir: "$W/secondary"
    zonelistfile: "$W/secondary/zone.list"
    database: ""
    logfile: "$W/secondary.log"
    zonesdir: "$W/secondary"
    username: ""
    xfrd-reload-timeout: 0
remote-control:
    control-enable: yes
    control-interface: "$W/secondary/nsd.ctl"
zone:
    name: example.com
    zonefile: "$W/secondary/example.com.zone"
    request-xfr: 127.0.0.1@$primary_port NOKEY
    allow-notify: 127.0.0.1 NOKEY
EOF
nsd-checkconf "$W/primary/nsd.conf" || fail "nsd-checkconf rejects the README's fragment"
for side in primary secondary; do
    setsid nsd -d -c "$W/$side/nsd.conf" >>"$W/$side.log" 2>&1 &
    pids+=($!)
done
for side in primary secondary; do
    for _ in $(seq 50); do
        nsd-control -c "$W/$side/nsd.conf" status >/dev/null 2>&1 && break
        sleep 0.1
    done
    nsd-control -c "$W/$side/nsd.conf" status >/dev/null || fail "the $side NSD did not start"
done
stat -c '%A %U:%G' "$W/primary/nsd.ctl"
ok "a private NSD primary with the README's fragment (port $primary_port), and a secondary (port $secondary_port)"

step "the main web server (127.0.0.1:$web_port)"
mkdir -p "$W/www"
echo ok >"$W/www/up.txt"
setsid python3 -m http.server --bind 127.0.0.1 --directory "$W/www" "$web_port" >"$W/web.log" 2>&1 &
web_pid=$!
pids+=("$web_pid")
for _ in $(seq 50); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $web_port), 0.2)" 2>/dev/null && break
    sleep 0.1
done

step "3. configure (README block 'configure')"
run_block configure
config=/etc/zonerw/zonerw.toml
# "Set the main server's ipv4 and check URL and the backup's ipv4."
sed -i -e 's|^  ipv4 = "192\.0\.2\.1"|  ipv4 = "127.0.0.1"|' \
    -e "s|^  check = \"https://www\\.example\\.com/up\\.txt\"|  check = \"http://www.example.com:$web_port/up.txt\"|" \
    -e 's|^  ipv4 = "198\.51\.100\.7"|  ipv4 = "127.0.0.2"|' \
    -e "s|^control = \\[\"nsd-control\"\\]|control = [\"nsd-control\", \"-c\", \"$W/primary/nsd.conf\"]|" "$config"
for want in 'ipv4 = "127.0.0.1"' "up.txt\"" 'ipv4 = "127.0.0.2"' "$W/primary/nsd.conf"; do
    grep -qF "$want" "$config" || fail "the example config no longer has the line to edit for: $want"
done
ok "the example config with the two addresses and the check URL set"

step "4. first run (README block 'first run')"
# dig asks the private primary.
dig() { command dig -p "$primary_port" "$@"; }
out=$(run_block "first run" 2>&1) || fail "$out"
printf '%s\n' "$out"
grep -qx '127.0.0.1' <<<"$out" || fail "dig did not show the main server's address 127.0.0.1 after the first run"
ok "zonerw check passed, zonerw --force installed the zone, the primary serves 127.0.0.1"

# What the secondary serves, waiting up to 10 s.
secondary_serves() {
    local want=$1 got=
    for _ in $(seq 100); do
        got=$(command dig -p "$secondary_port" @127.0.0.1 www.example.com A +short 2>/dev/null || true)
        [[ $got == "$want" ]] && return 0
        sleep 0.1
    done
    fail "the secondary serves '$got', not $want"
}
secondary_serves 127.0.0.1
ok "the secondary serves the main server's address 127.0.0.1"

step "a run with nothing to do is silent"
out=$(sudo -u zonerw zonerw 2>&1) || fail "a quiet run failed: $out"
[[ -z $out ]] || fail "a run with nothing to do printed: $out"
ok "silent, exit 0"

step "zonerw adopt: an existing zone file becomes a template"
cat >"$W/example.org.zone" <<'EOF'
$ORIGIN example.org.
$TTL 3600
@       IN SOA ns1.example.org. hostmaster.example.org. ( 2024010101 300 60 7257600 300 )
        IN NS  ns1.example.org.
ns1     IN A   192.0.2.53       ; not a server of the pool: kept
@   300 IN A   127.0.0.1        ; the main server: becomes the marker
www 300 IN A   127.0.0.1
@       IN TXT "hosted at 127.0.0.1"
EOF
out=$(zonerw adopt "$W/example.org.zone" 2>&1) || fail "zonerw adopt failed: $out"
printf '%s\n' "$out"
want="$W/example.org.zone:3: serial 2024010101 -> @serial@
$W/example.org.zone:6: 127.0.0.1 -> @IP@
$W/example.org.zone:7: 127.0.0.1 -> @IP@
wrote $adopted"
[[ $out == "$want" ]] || fail "zonerw adopt printed, instead of: $want"
nsd-control -c "$W/primary/nsd.conf" addzone example.org zonerw >/dev/null
out=$(sudo -u zonerw zonerw 2>&1) || fail "the run after adopt failed: $out"
printf '%s\n' "$out"
serial=$(command dig -p "$primary_port" @127.0.0.1 example.org SOA +short | awk '{print $3}')
[[ $serial =~ ^[0-9]+$ ]] || fail "the primary does not serve example.org"
diff <(sed "s/ 2024010101 / $serial /" "$W/example.org.zone") "$adopted_zone" ||
    fail "the installed example.org is not the original file with only the serial changed"
ok "adopted: the installed zone is the original file with only the serial changed ($serial)"

step "signed zones: keys (README block 'keys'), [dnssec], a run signs example.com"
if command -v ldns-signzone >/dev/null && command -v delv >/dev/null; then
    (run_block keys)
    printf '\n[dnssec]\n' >>"$config"
    out=$(sudo -u zonerw zonerw 2>&1) || fail "the run after adding keys failed: $out"
    printf '%s\n' "$out"
    grep -q "^example.com: serial [0-9]* -> [0-9]*, signed for the first time, reloaded$" <<<"$out" ||
        fail "the run after adding keys did not sign example.com for the first time"
    ksk=$(grep -l 'DNSKEY\s*257' /etc/zonerw/keys/Kexample.com.*.key)
    awk '{printf "trust-anchors {\n  %s static-key %s %s %s \"%s\";\n};\n",$1,$4,$5,$6,$7}' "$ksk" >"$W/anchor.conf"
    validated=
    for _ in $(seq 50); do
        validated=$(command dig -p "$secondary_port" @127.0.0.1 example.com SOA +short | awk '{print $3}')
        if command delv @127.0.0.1 -p "$secondary_port" -a "$W/anchor.conf" +root=example.com \
            www.example.com A 2>&1 | grep -q '^; fully validated'; then
            validated=yes
            break
        fi
        sleep 0.1
    done
    [[ $validated == yes ]] || fail "delv at the secondary does not validate www.example.com"
    ok "the secondary serves example.com signed: delv says fully validated"
else
    echo "NOTE: ldnsutils or delv missing: signed zones not tried (scripts/test installs them)"
fi

step "planned maintenance: drain main, then undrain it"
out=$(sudo -u zonerw zonerw drain web main --reason patching 2>&1) || fail "zonerw drain failed: $out"
printf '%s\n' "$out"
grep -qF "web: main (127.0.0.1) -> backup (127.0.0.2): main drained: patching" <<<"$out" ||
    fail "zonerw drain did not move the pool to backup"
secondary_serves 127.0.0.2
ok "after 'zonerw drain web main' the secondary serves the backup's address 127.0.0.2"
out=$(sudo -u zonerw zonerw undrain web main 2>&1) || fail "zonerw undrain failed: $out"
printf '%s\n' "$out"
secondary_serves 127.0.0.1
ok "after 'zonerw undrain web main' the secondary serves the main server's address 127.0.0.1"

step "failover: the main server stops; a run as user zonerw"
kill -TERM -- "-$web_pid"
out=$(sudo -u zonerw zonerw 2>&1) || fail "the failover run failed: $out"
printf '%s\n' "$out"
grep -qF "web: main (127.0.0.1) -> backup (127.0.0.2)" <<<"$out" || fail "the failover run did not say web: main (127.0.0.1) -> backup (127.0.0.2)"
secondary_serves 127.0.0.2
ok "the secondary serves the backup's address 127.0.0.2"

step "zonerw status"
sudo -u zonerw zonerw status

stop_all
echo
echo "tests/quickstart.sh: the README's quick start works as written ($((SECONDS - t0)) s)"
