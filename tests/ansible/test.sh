#!/usr/bin/env bash
# tests/ansible/test.sh - apply contrib/ansible/roles/zonerw to this machine,
# for real, into a throwaway prefix, and check what it reports.
#
#   tests/ansible/test.sh            (as root)
#
# Installs ansible-core (pinned, ANSIBLE_CORE_VERSION) with pip into a venv
# (ANSIBLE_VENV, default target/ansible-venv) when it is not there yet, builds
# zonerw with `cargo build` (or takes ZONERW_BIN), then, in a temp dir
# /tmp/zonerw-ansible.XXXXXX, starts a toy "main" web server
# (python3 -m http.server) and runs ansible-playbook -c local against
# localhost with zonerw_prefix pointing into the temp dir, zonerw_install =
# binary, zonerw_schedule = cron, a stub nsd-control that logs its arguments,
# and zonerw_owner = nobody (so every zonerw command of the role goes through
# runuser, as it would for the user "zonerw"). It asserts:
#   0. check mode before anything is installed: changed > 0, nothing written;
#   1. first run: changed > 0, the handler ran zonerw --force (the stub logged
#      "reload", the zone is rendered with the main server's address, the
#      state is owned by nobody), the cron file is there;
#   2. second run: changed = 0;
#   2a. pins and drains from zonerw_pins / zonerw_drains: check mode reports
#      the drain (changed > 0) and writes nothing; the drain for real moves
#      the zone to the backup; again: changed = 0; undrain and pin backup;
#      unpin: the zone is back on main;
#   3. check mode, nothing to do: changed = 0;
#   4. check mode after the main server went down: changed >= 1 (the dry run
#      shows the failover), nothing written;
#   5. a real run with the main server down and nothing else changed:
#      changed = 0 (the role only runs zonerw when its files change);
#   6. check mode with a changed template: changed >= 1, nothing written;
#   7. that change for real: the handler fails over (backup address, the
#      on-change hook ran) and the template's new line is in the zone;
#   8. again: changed = 0, and check mode: changed = 0;
#   9. a template the role does not manage is removed, and the zones rewritten;
#  10. zonerw_schedule = timer: the cron file goes, the units (copied from
#      contrib/systemd) and their drop-ins are written into the prefix
#      (systemd itself is left alone: zonerw_prefix is set); again: changed = 0.
# Stops what it started (by pid) and removes the temp dir on exit (KEEP=1
# keeps it). Exits non-zero on the first failed assertion, with the log of the
# run that failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$PWD
PATH=$PATH:/usr/sbin:/sbin

ANSIBLE_CORE_VERSION=${ANSIBLE_CORE_VERSION:-2.18.19}
venv=${ANSIBLE_VENV:-$repo/target/ansible-venv}
playbook=$repo/tests/ansible/playbook.yml

step() { printf '\n==> %s\n' "$*"; }
fail() {
    printf '\nFAIL: %s\n' "$*" >&2
    if [[ -n ${last_log:-} && -f $last_log ]]; then
        printf -- '--- %s\n' "$last_log" >&2
        cat "$last_log" >&2
    fi
    exit 1
}
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }'; }

if [[ $(id -u) -ne 0 ]]; then
    echo "tests/ansible/test.sh: SKIPPED: needs root (the role sets owners and uses runuser)" >&2
    exit 0
fi

t_all=$EPOCHREALTIME

# ---------------------------------------------------------------- ansible-core
t=$EPOCHREALTIME
if "$venv/bin/ansible-playbook" --version 2>/dev/null | grep -qF "[core $ANSIBLE_CORE_VERSION]"; then
    echo "ansible-core $ANSIBLE_CORE_VERSION: $venv"
    t_pip=0s
else
    step "pip install ansible-core==$ANSIBLE_CORE_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==$ANSIBLE_CORE_VERSION"
    t_pip=$(elapsed "$t")
fi

# ---------------------------------------------------------------- zonerw
t=$EPOCHREALTIME
if [[ -n ${ZONERW_BIN:-} ]]; then
    zonerw=$ZONERW_BIN
else
    step "cargo build"
    cargo build
    target_dir=$(cargo metadata --format-version 1 --no-deps |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
    zonerw=$target_dir/debug/zonerw
fi
[[ -x $zonerw ]] || fail "no zonerw binary at $zonerw"
zonerw=$(realpath "$zonerw")
t_build=$(elapsed "$t")

# ---------------------------------------------------------------- the scene
tmp=$(mktemp -d /tmp/zonerw-ansible.XXXXXX)
http_pid=
cleanup() {
    if [[ -n $http_pid ]]; then
        kill "$http_pid" 2>/dev/null || true
        wait "$http_pid" 2>/dev/null || true
    fi
    if [[ -n ${KEEP:-} ]]; then
        echo "kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

# nobody must reach everything under the prefix.
chmod 0755 "$tmp"
root=$tmp/root
owner=nobody
group=$(id -gn nobody)
install -d -m 0755 "$tmp/bin" "$tmp/www" "$tmp/stage" "$root"
install -d -m 0755 -o "$owner" "$tmp/log" "$root/metrics"

cat >"$tmp/bin/nsd-control" <<EOF
#!/bin/sh
# stub nsd-control: log the arguments, answer like NSD
printf '%s\n' "\$*" >>'$tmp/log/nsd-control.log'
echo ok
EOF
chmod 0755 "$tmp/bin/nsd-control"

checkzone=$(command -v nsd-checkzone || true)

echo ok >"$tmp/www/up.txt"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$tmp/www" "$port" >"$tmp/log/http.log" 2>&1 &
http_pid=$!
url=http://127.0.0.1:$port/up.txt
for _ in $(seq 50); do
    "$zonerw" probe --timeout 1s --connect 127.0.0.1 "$url" >/dev/null 2>&1 && break
    sleep 0.1
done
"$zonerw" probe --timeout 1s --connect 127.0.0.1 "$url" >/dev/null || fail "the toy main server on $url does not answer"

# Every variable of the role, as extra vars. The hook's command has quotes
# and a backslash-free shell line: it checks that strings reach the TOML
# intact.
cat >"$tmp/vars.yml" <<EOF
zonerw_install: binary
zonerw_binary_src: "$zonerw"
zonerw_prefix: "$root"
zonerw_owner: $owner
zonerw_group: $group
zonerw_state_group: $group
zonerw_create_user: false
zonerw_schedule: cron
zonerw_cron_minute: "*/2"
zonerw_check_tmpdir: "$tmp/stage"
zonerw_nsd_control: ["$tmp/bin/nsd-control"]
zonerw_nsd_checkzone: "$checkzone"
zonerw_nsd_timeout: 10s
zonerw_metrics_textfile: /metrics/zonerw.prom
zonerw_pools:
  - name: web
    marker: IP
    fall: 1
    servers:
      - {name: main, ipv4: 127.0.0.1, check: "$url"}
      - {name: backup, ipv4: 127.0.0.2}
    check: {attempts: 1, timeout: 2s, expect-body: ok}
zonerw_hooks:
  on-change: ["/bin/sh", "-c", "echo \"pool \$ZONERW_POOL: \$ZONERW_FROM -> \$ZONERW_TO\" >>'$tmp/log/hook.log'"]
zonerw_templates:
  example.test: |
    \$ORIGIN example.test.
    \$TTL 300
    @   IN SOA ns1.example.test. hostmaster.example.test. ( @serial@ 300 60 7257600 300 )
        IN NS ns1.example.test.
    ns1 IN A 127.0.0.2
    www 300 IN A @IP@
EOF

# The same with a changed template (an extra TXT record).
cat >"$tmp/vars-changed.yml" <<EOF
zonerw_templates:
  example.test: |
    \$ORIGIN example.test.
    \$TTL 300
    @   IN SOA ns1.example.test. hostmaster.example.test. ( @serial@ 300 60 7257600 300 )
        IN NS ns1.example.test.
    ns1 IN A 127.0.0.2
    www 300 IN A @IP@
    www IN TXT "changed by ansible"
EOF

export ANSIBLE_ROLES_PATH=$repo/contrib/ansible/roles
export ANSIBLE_CONFIG=$tmp/ansible.cfg ANSIBLE_HOME=$tmp/ansible-home
export ANSIBLE_LOCAL_TEMP=$tmp/ansible-local ANSIBLE_REMOTE_TMP=$tmp/ansible-remote
export ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_STDOUT_CALLBACK=default
printf '[defaults]\n' >"$ANSIBLE_CONFIG"

zone=$root/var/lib/nsd/zonerw/example.test.zone
state=$root/var/lib/zonerw/state.json
tpl=$root/etc/zonerw/templates/example.test.zone
cronfile=$root/etc/cron.d/zonerw
nsdlog=$tmp/log/nsd-control.log

# play NAME [ansible-playbook options]: one run, sets $changed.
run=0
t_plays=$EPOCHREALTIME
play() {
    local name=$1 t=$EPOCHREALTIME recap
    shift
    run=$((run + 1))
    last_log=$tmp/log/run$run.log
    if ! "$venv/bin/ansible-playbook" -i localhost, -c local \
        -e "ansible_python_interpreter=$venv/bin/python" -e "@$tmp/vars.yml" \
        "$@" "$playbook" >"$last_log" 2>&1; then
        fail "run $run ($name): ansible-playbook failed"
    fi
    recap=$(grep -E '^localhost +:' "$last_log") || fail "run $run ($name): no PLAY RECAP"
    [[ $recap =~ changed=([0-9]+) ]] || fail "run $run ($name): cannot parse: $recap"
    changed=${BASH_REMATCH[1]}
    [[ $recap =~ failed=0 ]] || fail "run $run ($name): $recap"
    printf '  run %2d  %-52s changed=%-2s %s\n' "$run" "$name" "$changed" "$(elapsed "$t")"
}
expect_changed() { # 0 | +
    if [[ $1 == 0 && $changed != 0 ]]; then fail "run $run: expected changed=0, got changed=$changed"; fi
    if [[ $1 == + && $changed == 0 ]]; then fail "run $run: expected changed>0, got changed=0"; fi
}
check() { "$@" || fail "run $run: assertion failed: $*"; }
sum() { sha256sum "$@" 2>/dev/null | cut -d' ' -f1; }
lines() { if [[ -f $1 ]]; then wc -l <"$1"; else echo 0; fi; }
no_stage_left() { [[ -z $(ls -A "$tmp/stage") ]]; }

step "ansible-playbook --syntax-check contrib/ansible/site.yml"
(cd contrib/ansible && "$venv/bin/ansible-playbook" -i inventory.example.ini --syntax-check site.yml >"$tmp/log/syntax.log" 2>&1) ||
    { last_log=$tmp/log/syntax.log; fail "contrib/ansible/site.yml: syntax check"; }

step "ansible-playbook runs (log: $tmp/log/runN.log)"

play "check mode, nothing installed yet" --check --diff
expect_changed +
check grep -Fq 'No dry run: ' "$last_log"
check test "$(ls -A "$root")" = metrics
check no_stage_left

play "first install"
expect_changed +
check grep -q '^reload' "$nsdlog"
check grep -Eq '^www 300 IN A 127\.0\.0\.1$' "$zone"
check grep -Fq 'Run zonerw --force' "$last_log"
check test "$(stat -c %U "$state")" = "$owner"
check grep -Fq "*/2 * * * * $owner $root/usr/bin/zonerw -c $root/etc/zonerw/zonerw.toml" "$cronfile"
check "$root/usr/bin/zonerw" -c "$root/etc/zonerw/zonerw.toml" status >/dev/null
reloads=$(lines "$nsdlog")

play "second run"
expect_changed 0
check test "$(lines "$nsdlog")" = "$reloads"

# web EXPR: a Python expression of p, pool web of `zonerw status --json`.
web() {
    "$root/usr/bin/zonerw" -c "$root/etc/zonerw/zonerw.toml" status --json |
        python3 -c "import json, sys; p = json.load(sys.stdin)['pools'][0]; print($1)"
}
drain_vars='{"zonerw_drains": [{"pool": "web", "server": "main", "reason": "patching"}]}'
before=$(sum "$state")
play "check mode, drain main" --check -e "$drain_vars"
expect_changed +
check grep -Fq 'would run: zonerw drain web main' "$last_log"
check test "$(sum "$state")" = "$before"

play "drain main" -e "$drain_vars"
expect_changed +
check grep -Eq '^www 300 IN A 127\.0\.0\.2$' "$zone"
check test "$(web "p['servers'][0]['drained']['reason']")" = patching

play "drain main, again" -e "$drain_vars"
expect_changed 0

play "undrain main, pin backup" -e '{"zonerw_drains": [], "zonerw_pins": {"web": "backup"}}'
expect_changed +
check test "$(web "p['servers'][0]['drained']")" = None
check test "$(web "p['pinned']['server']")" = backup
check grep -Eq '^www 300 IN A 127\.0\.0\.2$' "$zone"

play "unpin" -e '{"zonerw_pins": {}}'
expect_changed +
check test "$(web "p['pinned']")" = None
check grep -Eq '^www 300 IN A 127\.0\.0\.1$' "$zone"
reloads=$(lines "$nsdlog")

zone_sum=$(sum "$zone") state_sum=$(sum "$state")
play "check mode, up to date (a)" --check --diff
expect_changed 0
check no_stage_left
check test "$(sum "$zone")" = "$zone_sum"

kill "$http_pid"
wait "$http_pid" 2>/dev/null || true
http_pid=
play "check mode, main down (b)" --check --diff
expect_changed +
check grep -Fq 'web: main (127.0.0.1) -> backup (127.0.0.2)' "$last_log"
check grep -Fq '"+www 300 IN A 127.0.0.2"' "$last_log"
check no_stage_left
check test "$(sum "$zone")" = "$zone_sum"
check test "$(sum "$state")" = "$state_sum"
check test "$(lines "$nsdlog")" = "$reloads"

play "real run, main down, no change to the role's files"
expect_changed 0
check test "$(sum "$zone")" = "$zone_sum"

tpl_sum=$(sum "$tpl")
play "check mode, changed template" --check --diff -e "@$tmp/vars-changed.yml"
expect_changed +
check grep -Fq '+www IN TXT "changed by ansible"' "$last_log"
check test "$(sum "$tpl")" = "$tpl_sum"
check test "$(sum "$zone")" = "$zone_sum"
check no_stage_left

play "changed template" -e "@$tmp/vars-changed.yml"
expect_changed +
check grep -Eq '^www 300 IN A 127\.0\.0\.2$' "$zone"
check grep -Fq 'www IN TXT "changed by ansible"' "$zone"
check test "$(lines "$nsdlog")" -gt "$reloads"
check grep -Fq 'pool web: main -> backup' "$tmp/log/hook.log"
check test -s "$root/metrics/zonerw.prom"
reloads=$(lines "$nsdlog")

play "changed template, again" -e "@$tmp/vars-changed.yml"
expect_changed 0

play "check mode, failed over and up to date" --check -e "@$tmp/vars-changed.yml"
expect_changed 0
check no_stage_left

printf '$ORIGIN stray.test.\n' >"$root/etc/zonerw/templates/stray.test.zone"
play "a template the role does not manage" -e "@$tmp/vars-changed.yml"
expect_changed +
check test ! -e "$root/etc/zonerw/templates/stray.test.zone"
check test "$(lines "$nsdlog")" -gt "$reloads"

units=$root/etc/systemd/system
play "schedule: timer instead of cron" -e zonerw_schedule=timer -e "@$tmp/vars-changed.yml"
expect_changed +
check test ! -e "$cronfile"
check test -s "$units/zonerw.service"
check test -s "$units/zonerw.timer"
check grep -Fxq "ExecStart=$root/usr/bin/zonerw -c $root/etc/zonerw/zonerw.toml" "$units/zonerw.service.d/ansible.conf"
check grep -Fxq "User=$owner" "$units/zonerw.service.d/ansible.conf"
check grep -Fxq "ReadWritePaths=-$root/var/lib/nsd/zonerw -$root/var/lib/zonerw -$root/metrics" "$units/zonerw.service.d/ansible.conf"
check grep -Fxq "OnCalendar=minutely" "$units/zonerw.timer.d/ansible.conf"
check grep -Fq "zonerw.timer not enabled: zonerw_prefix is set" "$last_log"
if command -v systemd-analyze >/dev/null; then
    # The units as systemd would load them, with the drop-ins (it warns
    # about User=nobody, which is only the test's choice).
    last_log=$tmp/log/systemd-analyze.log
    check env SYSTEMD_UNIT_PATH="$units:" systemd-analyze verify --man=no zonerw.service zonerw.timer 2>"$last_log"
fi

play "schedule: timer, again" -e zonerw_schedule=timer -e "@$tmp/vars-changed.yml"
expect_changed 0
check grep -Fxq 'kind      = "nsd"' "$root/etc/zonerw/zonerw.toml"
check grep -Fxq "control   = [\"$tmp/bin/nsd-control\"]" "$root/etc/zonerw/zonerw.toml"

play "check mode, Knot DNS as the primary" --check --diff -e zonerw_schedule=timer \
    -e "@$tmp/vars-changed.yml" -e zonerw_server_kind=knot -e zonerw_server_add_template=zonerw
expect_changed +
check grep -Fq '+kind      = "knot"' "$last_log"
check grep -Fq '+add-template = "zonerw"' "$last_log"
check grep -Fxq 'kind      = "nsd"' "$root/etc/zonerw/zonerw.toml"

printf '\nok: %d ansible-playbook runs; ansible-core %s (pip %s), zonerw build %s, plays %s, total %s\n' \
    "$run" "$ANSIBLE_CORE_VERSION" "$t_pip" "$t_build" "$(elapsed "$t_plays")" "$(elapsed "$t_all")"
