#!/usr/bin/env bash
# Rehearses a Heroku deploy on this machine, with what Heroku gives an app:
#   - PostgreSQL of its own (initdb) that takes TLS connections only, with a
#     password, reached through a postgres:// URL without sslmode plus
#     PGSSLMODE=require (as Heroku Postgres and app.json);
#   - redis-server serving TLS only, with a self-signed certificate and a
#     password, reached through rediss:// with REDIS_TLS_VERIFY=0 (as Heroku Redis);
#   - nginx in front, terminating TLS, appending the client's address to
#     X-Forwarded-For and setting X-Forwarded-Proto (as Heroku's router);
#   - the Procfile's own lines: `release`, then two `web` processes on their own
#     PORT behind the router, and one `worker`, each with only Heroku's
#     environment (the variables app.json sets).
# Then walks through it over the router (scripts/rehearse_walk.py) and fails on
# the first broken step. Everything runs on loopback and is stopped at the end.
#
# The server binary: IODIDE_SERVER_BIN, else the debug build that the tests
# built (CI builds no release binary: the rehearsal checks the deployment, not
# the optimiser, and a release build would double CI's compile time).
#
# REHEARSAL_BREAK=redis-tls|forwarded-for|database|websocket breaks one part on purpose
# (the app verifies Redis's self-signed certificate; the router stops appending
# X-Forwarded-For; web2 gets a database of its own; the router drops the Upgrade
# header): the rehearsal must fail.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVER_BIN="$(realpath "${IODIDE_SERVER_BIN:-${CARGO_TARGET_DIR:-target}/debug/iodide-server}")"
[ -x "$SERVER_BIN" ] || { echo "no server binary at $SERVER_BIN (cargo build --bin iodide-server)" >&2; exit 1; }

step() { printf '\n--> %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }

# --- tools: installed when missing, as on a fresh CI machine -----------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v curl >/dev/null || missing+=(curl)
[ -n "$(pg_bin)" ] || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
PG_BIN="$(pg_bin)"
# The walk's WebSocket client (a subscription through the router).
python3 -c 'import websockets.sync.client' 2>/dev/null || python3 -m pip install --quiet 'websockets>=13'
# grep reads all of ldd's output: with -q it could exit first and pipefail would
# take ldd's SIGPIPE for a failure.
ldd "$(command -v redis-server)" | grep libssl >/dev/null || fail "redis-server was built without TLS"

# --- the machine's pieces, cleaned up whatever happens ------------------------
work="$(mktemp -d)"
chmod 755 "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -d "$work/pg/data" ] && as_postgres "$PG_BIN/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  if [ "${KEEP_REHEARSAL:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# PostgreSQL refuses to run as root.
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
secret() { openssl rand -hex "$1"; }
certificate() { # name: a self-signed certificate for localhost, as the add-ons' own
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
    -keyout "$work/$1.key" -out "$work/$1.crt" 2>/dev/null
}
wait_for() { # what, command...
  local what="$1"; shift
  for _ in $(seq 1 150); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  fail "$what did not come up"
}

step "PostgreSQL: TLS only, password required"
PG_PORT="$(free_port)"; PG_PASSWORD="$(secret 16)"
mkdir "$work/pg"
certificate pg
mv "$work/pg.key" "$work/pg.crt" "$work/pg/"
echo "$PG_PASSWORD" >"$work/pg/password"
chmod 600 "$work/pg/pg.key"
[ "$(id -u)" = 0 ] && chown -R postgres "$work/pg"
as_postgres "$PG_BIN/initdb" -D "$work/pg/data" -U iodide --pwfile="$work/pg/password" \
  -A scram-sha-256 --no-sync >/dev/null
printf '%s\n' 'hostssl all all 127.0.0.1/32 scram-sha-256' 'hostnossl all all 0.0.0.0/0 reject' \
  | as_postgres tee "$work/pg/data/pg_hba.conf" >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o \
  "-p $PG_PORT -k $work/pg -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file=$work/pg/pg.crt -c ssl_key_file=$work/pg/pg.key" \
  start >/dev/null
PGPASSWORD="$PG_PASSWORD" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U iodide iodide
PG_URL="postgres://iodide:$PG_PASSWORD@127.0.0.1:$PG_PORT/iodide"
if PGPASSWORD="$PG_PASSWORD" "$PG_BIN/psql" "$PG_URL?sslmode=disable" -c 'SELECT 1' >/dev/null 2>&1; then
  fail "PostgreSQL took a connection without TLS"
fi
echo "ok: a connection without TLS is refused"

step "Redis: TLS only, self-signed certificate, password required"
REDIS_PORT="$(free_port)"; REDIS_PASSWORD="$(secret 16)"
certificate redis
REDIS_COMMAND=(redis-server --port 0 --tls-port "$REDIS_PORT" --bind 127.0.0.1
  --tls-cert-file "$work/redis.crt" --tls-key-file "$work/redis.key" --tls-auth-clients no
  --requirepass "$REDIS_PASSWORD" --save '' --appendonly no --dir "$work"
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log")
"${REDIS_COMMAND[@]}"
wait_for "redis-server" redis-cli --tls --insecure -p "$REDIS_PORT" -a "$REDIS_PASSWORD" --no-auth-warning ping

step "the router: nginx terminating TLS in front of two web processes"
WEB1_PORT="$(free_port)"; WEB2_PORT="$(free_port)"; ROUTER_PORT="$(free_port)"
certificate router
# X-Rehearsal-Instance lets the walk pick an instance through the router (to
# show that what one wrote, the other reads); without it requests alternate.
cat >"$work/nginx.conf" <<EOF
pid $work/nginx.pid;
error_log $work/nginx-error.log;
worker_processes 1;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  fastcgi_temp_path $work/nginx-fastcgi;
  uwsgi_temp_path $work/nginx-uwsgi;
  scgi_temp_path $work/nginx-scgi;
  client_max_body_size 11m;
  upstream both { server 127.0.0.1:$WEB1_PORT; server 127.0.0.1:$WEB2_PORT; }
  upstream web1 { server 127.0.0.1:$WEB1_PORT; }
  upstream web2 { server 127.0.0.1:$WEB2_PORT; }
  map \$http_x_rehearsal_instance \$instance { 1 web1; 2 web2; default both; }
  # Heroku's router passes WebSocket upgrades; nginx does when told to.
  map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
  server {
    listen 127.0.0.1:$ROUTER_PORT ssl;
    ssl_certificate $work/router.crt;
    ssl_certificate_key $work/router.key;
    location / {
      proxy_pass http://\$instance;
      proxy_http_version 1.1;
      proxy_set_header Host \$http_host;
      $( [ "${REHEARSAL_BREAK:-}" = forwarded-for ] || echo 'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;' )
      proxy_set_header X-Forwarded-Proto https;
      $( [ "${REHEARSAL_BREAK:-}" = websocket ] || echo 'proxy_set_header Upgrade $http_upgrade;' )
      proxy_set_header Connection \$connection_upgrade;
      proxy_set_header X-Rehearsal-Instance "";
    }
  }
}
EOF
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log"

# --- Heroku's environment: app.json's config vars and the add-ons' URLs -------
SERVER_URI="https://localhost:$ROUTER_PORT/"
heroku_env=(
  env -i PATH="$PATH" HOME="$work" DYNO=rehearsal
  DATABASE_URL="$PG_URL" PGSSLMODE=require
  REDIS_URL="rediss://:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT" REDIS_TLS_VERIFY=0
  SECRET_KEY="$(secret 32)" SERVER_URI="$SERVER_URI"
  CLIENT_IP_SOURCE=rightmost-x-forwarded-for
  # Config vars an operator may set. The file source's site is on loopback.
  FILE_SOURCE_ALLOWED_NETWORKS=127.0.0.1/32
  WORKER_POLL_INTERVAL_MS=200
  # A debug build's TLS handshake on a busy CI machine can take longer than the
  # production bound of 250 ms, after which the app would go on without Redis.
  REDIS_TIMEOUT_MS=3000
)
[ -n "${RUST_LOG:-}" ] && heroku_env+=(RUST_LOG="$RUST_LOG")
[ "${REHEARSAL_BREAK:-}" = redis-tls ] && heroku_env+=(REDIS_TLS_VERIFY=1)
# A Procfile line, with the buildpack's binary replaced by the one rehearsed.
procfile() {
  local line
  line="$(sed -n "s/^$1: *//p" Procfile)"
  [ -n "$line" ] || fail "the Procfile has no $1 line"
  echo "${line//.\/target\/release\/iodide-server/$SERVER_BIN}"
}

step "release: $(procfile release)"
# shellcheck disable=SC2046
"${heroku_env[@]}" $(procfile release) | tee "$work/release.log"
grep -q '^applied ' "$work/release.log" || fail "the release phase reported no migration"

start() { # name, port, Procfile process, variables to change
  # shellcheck disable=SC2046
  "${heroku_env[@]}" PORT="$2" "${@:4}" $(procfile "$3") >"$work/$1.log" 2>&1 &
  pids+=("$!")
  echo "$1 (pid $!): PORT=$2 $(procfile "$3")"
}
start web1 "$WEB1_PORT" web; WEB1_PID="$!"
web2_changes=()
if [ "${REHEARSAL_BREAK:-}" = database ]; then
  PGPASSWORD="$PG_PASSWORD" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U iodide elsewhere
  web2_changes=(DATABASE_URL="${PG_URL%/iodide}/elsewhere")
fi
start web2 "$WEB2_PORT" web "${web2_changes[@]}"
start worker 0 worker
for port in "$WEB1_PORT" "$WEB2_PORT"; do
  wait_for "web on $port" curl -sf "http://127.0.0.1:$port/__lbheartbeat__"
done
wait_for "the router" curl -skf "https://localhost:$ROUTER_PORT/__lbheartbeat__"

step "administration as with heroku run: a user and an API token"
"${heroku_env[@]}" "$SERVER_BIN" user create rehearsal >/dev/null
TOKEN="$("${heroku_env[@]}" "$SERVER_BIN" token create rehearsal)"
[[ "$TOKEN" == iod_* ]] || fail "token create printed no token"
echo "ok: token ${TOKEN:0:8}..."

step "the walk, over the router"
# A site that the file source fetches from (loopback, hence the allowed network).
SOURCE_PORT="$(free_port)"
mkdir "$work/site"
echo "the file source's content" >"$work/site/source.txt"
python3 -m http.server --bind 127.0.0.1 --directory "$work/site" "$SOURCE_PORT" >/dev/null 2>&1 &
pids+=("$!")
wait_for "the file source's site" curl -sf "http://127.0.0.1:$SOURCE_PORT/source.txt"
ROUTER="https://localhost:$ROUTER_PORT" ROUTER_CA="$work/router.crt" \
  TOKEN="$TOKEN" WEB1_PID="$WEB1_PID" \
  SOURCE_URL="http://127.0.0.1:$SOURCE_PORT/source.txt" \
  REDIS_PID_FILE="$work/redis.pid" \
  python3 scripts/rehearse_walk.py -- "${REDIS_COMMAND[@]}"

wait "$WEB1_PID" || fail "web1 exited with status $? after SIGTERM"
echo "ok: web1 exited cleanly after SIGTERM"

step "every connection the app holds to PostgreSQL is encrypted"
PGPASSWORD="$PG_PASSWORD" "$PG_BIN/psql" "$PG_URL?sslmode=require" -tA -c \
  "SELECT count(*) FILTER (WHERE ssl), count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE datname = 'iodide'" \
  | { IFS='|' read -r encrypted total
      [ "$total" -gt 1 ] && [ "$encrypted" = "$total" ] || fail "$encrypted of $total connections use TLS"
      echo "ok: $encrypted of $total connections use TLS"; }

step "logs are JSON outside development mode"
head -1 "$work/web2.log" | python3 -c 'import json, sys; json.loads(sys.stdin.readline())' \
  || fail "web2's first log line is not JSON"
echo "ok"

printf '\nrehearsal passed\n'
