# Shared by scripts/test and scripts/demo: a venv with the project installed, and services.

PYTHON=${PYTHON:-python3.11}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv with $PYTHON"
    "$PYTHON" -m venv .venv
  fi
  # Reinstall only when the packaging (pyproject.toml, setup.py) changed since the last install.
  local stamp=.venv/.auditbot-installed
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ setup.py -nt "$stamp" ]; then
    echo "== installing auditbot and its test extras"
    # setuptools >= 77 builds the wheel in tests/test_packaging.py (a fresh venv has 65.5).
    .venv/bin/python -m pip install --quiet --upgrade pip "setuptools>=77"
    .venv/bin/python -m pip install --quiet -e '.[test]'
    touch "$stamp"
  fi
}

# Semgrep CE, the offline analysis engine, in a venv of its own: its wheel pins many libraries
# (and ships the engine's binary). auditbot finds it at .semgrep-venv/bin/semgrep, or on PATH.
SEMGREP_VERSION=1.185.0
ensure_semgrep() {
  local stamp=.semgrep-venv/.auditbot-semgrep-$SEMGREP_VERSION
  if [ ! -f "$stamp" ]; then
    echo "== installing semgrep $SEMGREP_VERSION into .semgrep-venv"
    [ -x .semgrep-venv/bin/python ] || "$PYTHON" -m venv .semgrep-venv
    .semgrep-venv/bin/python -m pip install --quiet "semgrep==$SEMGREP_VERSION"
    touch "$stamp"
  fi
}

redis_up() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }
postgres_up() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }

ensure_services() {
  if ! redis_up; then
    if ! command -v redis-server >/dev/null; then
      echo "== installing redis-server from Debian's packages"
      apt-get update -qq && apt-get install -y -qq redis-server >/dev/null
    fi
    echo "== starting Redis on 127.0.0.1:6379"
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log
  fi
  if ! postgres_up; then
    if ! ls /etc/postgresql >/dev/null 2>&1; then
      echo "== installing PostgreSQL from Debian's packages"
      apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
    fi
    echo "== starting PostgreSQL on 127.0.0.1:5432"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  fi
  for _ in $(seq 1 50); do redis_up && postgres_up && return 0; sleep 0.2; done
  echo "Redis or PostgreSQL did not come up on 127.0.0.1" >&2
  return 1
}
