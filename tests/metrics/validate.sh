#!/usr/bin/env bash
# tests/metrics/validate.sh - run zonerw for real and validate its Prometheus textfile with
# the Prometheus project's own Python parser (prometheus_client), plus the naming rules
# promtool's `check metrics` lints for. Run by scripts/test.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ZONERW=${ZONERW_BIN:-target/debug/zonerw}
VENV=target/metrics-venv
[ -x "$ZONERW" ] || cargo build --quiet
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet 'prometheus_client==0.21.*'
fi

work=$(mktemp -d /tmp/zrwprom.XXXXXX)
http_pid=
cleanup() {
    [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work"/{templates,zones,state,www}
echo up > "$work/www/up.txt"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 -d "$work/www" >/dev/null 2>&1 &
http_pid=$!
python3 - "$port" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        break
    except OSError:
        time.sleep(0.05)
PY

printf '#!/bin/sh\necho ok\n' > "$work/nsd-control"
chmod +x "$work/nsd-control"
cat > "$work/templates/example.test.zone" <<'ZONE'
$ORIGIN example.test.
$TTL 60
@ IN SOA ns1 hostmaster ( @serial@ 300 60 7257600 60 )
  IN NS ns1
ns1 IN A 192.0.2.53
www IN A @IP@
ZONE
cat > "$work/zonerw.toml" <<TOML
templates = "templates"
zones = "zones"
state = "state"
[nsd]
control = ["$work/nsd-control"]
checkzone = ""
[[pool]]
name = "web"
  [[pool.server]]
  name = "main"
  ipv4 = "127.0.0.1"
  check = "http://www.example.test:$port/up.txt"
  [[pool.server]]
  name = "dead"
  ipv4 = "127.0.0.1"
  check = "http://www.example.test:1/"
  [[pool.server]]
  name = "backup"
  ipv4 = "198.51.100.7"
[pool.check]
timeout = "1s"
attempts = 1
[metrics]
textfile = "zonerw.prom"
TOML

"$ZONERW" -c "$work/zonerw.toml"
"$VENV/bin/python" - "$work/zonerw.prom" <<'PY'
import re, sys
from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
families = list(text_string_to_metric_families(text))
names = {f.name: f for f in families}
problems = []
# every family announced with HELP and TYPE
for line in text.splitlines():
    if line and not line.startswith("#"):
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        if f"# TYPE {name} " not in text and not any(
            f"# TYPE {name[:-len(s)]} " in text for s in ("_total",)
        ):
            problems.append(f"sample without TYPE: {line}")
        if f"# HELP {name}" not in text and f"# HELP {name.removesuffix('_total')}" not in text:
            problems.append(f"sample without HELP: {line}")
for f in families:
    if not f.name.startswith("zonerw_"):
        problems.append(f"{f.name}: not prefixed zonerw_")
    if f.type == "counter" and not any(s.name.endswith("_total") for s in f.samples):
        problems.append(f"{f.name}: counter without _total")
    if f.type != "counter" and f.name.endswith("_total"):
        problems.append(f"{f.name}: _total on a {f.type}")
    if "timestamp" in f.name and not f.name.endswith("_seconds"):
        problems.append(f"{f.name}: time not in _seconds")
    seen = set()
    for s in f.samples:
        key = (s.name, tuple(sorted(s.labels.items())))
        if key in seen:
            problems.append(f"duplicate sample {key}")
        seen.add(key)
def value(name, **labels):
    for f in families:
        for s in f.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    problems.append(f"missing {name} {labels}")
web = (("pool", "web"),)
expect = {
    ("zonerw_server_up", web + (("server", "main"),)): 1,
    ("zonerw_server_up", web + (("server", "dead"),)): 0,
    ("zonerw_server_up", web + (("server", "backup"),)): 1,
    ("zonerw_server_chosen", web + (("server", "main"),)): 1,
    ("zonerw_server_chosen", web + (("server", "backup"),)): 0,
    ("zonerw_last_run_success", ()): 1,
    ("zonerw_failovers_total", web): 0,
}
for (name, labels), want in expect.items():
    got = value(name, **dict(labels))
    if got != want:
        problems.append(f"{name}{dict(labels)} = {got}, want {want}")
if value("zonerw_probe_latency_seconds", pool="web", server="main") is None:
    problems.append("no latency for main")
if problems:
    print("\n".join(problems)); print(text); sys.exit(1)
print(f"metrics OK: {len(families)} families parsed by prometheus_client, naming rules hold")
PY
