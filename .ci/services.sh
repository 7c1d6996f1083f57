#!/usr/bin/env bash
# Optional services for the test suite: Debian's chromium (browser test) and a local PostgreSQL
# (store tests).
#   .ci/services.sh start URL_FILE   install what is missing, start PostgreSQL, write its URL to URL_FILE
#   .ci/services.sh stop             stop the PostgreSQL cluster this script started
# Every failure is reported on stderr and only makes the tests that need the service skip.
# The server is started with its stdio on its log file and no other descriptor of ours open: a daemon
# that inherits the caller's pipe keeps `$(...)` or a CI log waiting for ever (CI hung 90 min on it).
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive
mode="${1:-}"

cluster_line() { pg_lsclusters -h 2>/dev/null | head -1; }

if [ "$mode" = stop ]; then
  command -v pg_lsclusters >/dev/null 2>&1 || exit 0
  read -r ver cluster _ < <(cluster_line) || exit 0
  [ -n "${ver:-}" ] && pg_ctlcluster "$ver" "$cluster" stop </dev/null >/dev/null 2>&1
  exit 0
fi
[ "$mode" = start ] && [ -n "${2:-}" ] || { echo "usage: $0 start URL_FILE | stop" >&2; exit 2; }
url_file="$2"
: >"$url_file"

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    # postgresql's install may start a server itself: give it nothing of ours to hold open
    { timeout 600 apt-get update -qq && timeout 900 apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
      </dev/null >/tmp/unmask-ci-apt.log 2>&1 \
      || echo "ci: apt-get install ${need[*]} failed (/tmp/unmask-ci-apt.log); the tests that need them will skip" >&2
  else
    echo "ci: cannot install ${need[*]} (needs root and apt-get); the tests that need them will skip" >&2
  fi
fi

command -v pg_lsclusters >/dev/null 2>&1 || { echo "ci: no PostgreSQL; its tests will skip" >&2; exit 0; }
read -r ver cluster port _ < <(cluster_line) || true
if [ -z "${ver:-}" ]; then
  ver="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
  cluster=main
  { [ -n "$ver" ] && pg_createcluster "$ver" "$cluster" </dev/null >/dev/null 2>&1; } \
    || { echo "ci: cannot create a PostgreSQL cluster" >&2; exit 0; }
  read -r ver cluster port _ < <(cluster_line)
fi
timeout 120 pg_ctlcluster "$ver" "$cluster" start </dev/null >/dev/null 2>&1 || true
pg_lsclusters -h | grep -q online || { echo "ci: PostgreSQL $ver/$cluster did not start" >&2; exit 0; }
sql="DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'unmask_test') THEN
     CREATE ROLE unmask_test LOGIN CREATEDB PASSWORD 'unmask_test'; END IF; END\$\$;"
if timeout 60 runuser -u postgres -- psql -p "$port" -qX -c "$sql" </dev/null >/dev/null; then
  echo "postgresql://unmask_test:unmask_test@127.0.0.1:$port/postgres" >"$url_file"
else
  echo "ci: cannot create the PostgreSQL test role; its tests will skip" >&2
fi
