#!/usr/bin/env bash
# Optional services for the test suite: Debian's chromium (browser test) and a local PostgreSQL
# (store tests). Prints the PostgreSQL URL for UNMASK_TEST_PG_URL on stdout, and nothing else;
# every failure is reported on stderr and only makes the tests that need the service skip.
set -uo pipefail
exec 3>&1 1>&2
export DEBIAN_FRONTEND=noninteractive

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    { timeout 600 apt-get update -qq && timeout 900 apt-get install -y -qq --no-install-recommends "${need[@]}"; } \
      || echo "ci: apt-get install ${need[*]} failed; the tests that need them will skip"
  else
    echo "ci: cannot install ${need[*]} (needs root and apt-get); the tests that need them will skip"
  fi
fi

command -v pg_lsclusters >/dev/null 2>&1 || { echo "ci: no PostgreSQL; its tests will skip"; exit 0; }
read -r ver cluster port _ < <(pg_lsclusters -h 2>/dev/null | head -1) || true
if [ -z "${ver:-}" ]; then
  ver="$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -1)"
  cluster=main
  [ -n "$ver" ] && pg_createcluster "$ver" "$cluster" >/dev/null || { echo "ci: cannot create a PostgreSQL cluster"; exit 0; }
  read -r ver cluster port _ < <(pg_lsclusters -h | head -1)
fi
pg_ctlcluster "$ver" "$cluster" start 2>/dev/null || true
pg_lsclusters -h | grep -q online || { echo "ci: PostgreSQL $ver/$cluster did not start"; exit 0; }
sql="DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'unmask_test') THEN
     CREATE ROLE unmask_test LOGIN CREATEDB PASSWORD 'unmask_test'; END IF; END\$\$;"
if runuser -u postgres -- psql -p "$port" -qX -c "$sql" >/dev/null; then
  echo "postgresql://unmask_test:unmask_test@127.0.0.1:$port/postgres" >&3
else
  echo "ci: cannot create the PostgreSQL test role; its tests will skip"
fi
