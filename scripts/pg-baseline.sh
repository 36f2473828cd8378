#!/usr/bin/env bash
# pg-baseline.sh - shoal's bank transfer as a CRUD transaction on a private
# PostgreSQL, driven by pgbench: the baseline `shoal bench` is compared with.
#
#   scripts/pg-baseline.sh [--mode uniform|hot|both] [--accounts N] [--clients C]
#                          [--seconds S] [--seed N] [--json] [--keep]
#
# It makes a cluster of its own (initdb in a temporary directory, pg_ctl
# start; the server listens on a unix socket in that directory, no TCP port),
# runs the transfer with pgbench, checks the books, then stops the server and
# removes the directory (also on error or Ctrl-C; --keep leaves it).
#
# The transfer, one transaction per pgbench run of the script (-M prepared,
# as an application with a driver would send it):
#   BEGIN;
#   SELECT balance FROM accounts WHERE id = least(src, dst) FOR UPDATE;
#   SELECT balance FROM accounts WHERE id = greatest(src, dst) FOR UPDATE;
#   -- the application checks the source's balance covers the amount, then:
#   UPDATE accounts SET balance = balance - amount WHERE id = src;
#   UPDATE accounts SET balance = balance + amount WHERE id = dst;
#   INSERT INTO transfers (src, dst, amount, status) VALUES (..., 'completed');
#   COMMIT;
# (a source that cannot pay inserts a 'failed' transfer and moves nothing).
# The rows are locked in id order, so two transfers never deadlock. Amounts
# are 1-100, as in shoal's bench; every account is funded so that none fails.
# synchronous_commit and fsync are on (PostgreSQL's defaults, as shoal's sync
# durability); every other setting is the package's default.
#
# Modes: uniform draws source and target among all accounts; hot debits
# account 1 in every transfer (shoal bench --hot 1) with a random target.
# Each mode starts from fresh tables.
#
# Books: after each run the sum of balances must be unchanged, and every
# account must hold its funding minus its completed debits plus its completed
# credits, as the transfers table records them. Exit 1 if not.
#
# Prints one line per mode (transfers/s = pgbench's committed transactions
# per second, without connection set-up); with --json, one JSON object as the
# last line. Progress on stderr. Runs as root by running the server as the
# user postgres (or $PG_USER). Finds the server's programs in $PGBIN, else
# the newest /usr/lib/postgresql/*/bin, else on PATH (Debian: the postgresql
# package; scripts/install-deps.sh --bench installs it).
#
# Examples:
#   scripts/pg-baseline.sh
#   scripts/pg-baseline.sh --mode hot --seconds 30 --json
#   scripts/pg-baseline.sh --accounts 100000 --clients 128 --keep
set -euo pipefail

mode=both
accounts=10000
clients=64
seconds=20
seed=1
json=false
keep=false
funding=1000000000000 # per account: the hot one never runs dry

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() {
    echo "pg-baseline.sh: $*" >&2
    exit 2
}
int_arg() { # NAME VALUE MIN: VALUE must be an integer >= MIN
    if ! [[ $2 =~ ^[0-9]+$ ]] || (($2 < $3)); then
        die "$1 must be an integer from $3, not '$2'"
    fi
}

while [ $# -gt 0 ]; do
    case $1 in
    --mode)
        [ $# -ge 2 ] || die "--mode needs a value"
        case $2 in uniform | hot | both) mode=$2 ;; *) die "--mode is uniform, hot or both, not '$2'" ;; esac
        shift 2
        ;;
    --accounts | --clients | --seconds | --seed)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --accounts) int_arg "$1" "$2" 2 && accounts=$2 ;;
        --clients) int_arg "$1" "$2" 1 && clients=$2 ;;
        --seconds) int_arg "$1" "$2" 1 && seconds=$2 ;;
        --seed) int_arg "$1" "$2" 0 && seed=$2 ;;
        esac
        shift 2
        ;;
    --json) json=true; shift ;;
    --keep) keep=true; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
((clients <= 900)) || die "--clients is at most 900 (max_connections 1000)"

# The server's programs: $PGBIN, the newest Debian version, or PATH.
if [ -z "${PGBIN:-}" ]; then
    while read -r d; do
        [ -x "$d/initdb" ] && { PGBIN=$d; break; }
    done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
fi
if [ -z "${PGBIN:-}" ] && command -v initdb >/dev/null; then
    PGBIN=$(dirname "$(readlink -f "$(command -v initdb)")")
fi
for p in initdb pg_ctl pgbench psql; do
    if [ -z "${PGBIN:-}" ] || [ ! -x "$PGBIN/$p" ]; then
        die "no PostgreSQL $p (set PGBIN, or run scripts/install-deps.sh --bench)"
    fi
done

# initdb and postgres refuse to run as root: the server runs as $PG_USER.
as_server=()
if [ "$(id -u)" -eq 0 ]; then
    user=${PG_USER:-postgres}
    id "$user" >/dev/null 2>&1 || die "running as root needs a user to run the server ($user does not exist; set PG_USER)"
    as_server=(runuser -u "$user" --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/shoal-pg-XXXXXX")
data=$dir/data
cleanup() {
    if [ -f "$data/postmaster.pid" ]; then
        "${as_server[@]}" "$PGBIN/pg_ctl" stop -D "$data" -m fast -w >/dev/null 2>&1 || true
    fi
    if $keep; then
        echo "pg-baseline.sh: kept $dir" >&2
    else
        rm -rf "$dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 711 "$dir"
mkdir -m 700 "$data"
[ ${#as_server[@]} -eq 0 ] || chown "$user" "$data" "$dir"

say() { echo "pg-baseline.sh: $*" >&2; }
say "initdb in $dir ($("$PGBIN/postgres" --version))"
"${as_server[@]}" "$PGBIN/initdb" -D "$data" -U shoal --auth=trust --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
if ! "${as_server[@]}" "$PGBIN/pg_ctl" start -D "$data" -w -t 60 -l "$dir/server.log" \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=1000 -c synchronous_commit=on -c fsync=on" >/dev/null; then
    cat "$dir/server.log" >&2
    exit 1
fi

sql() { PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -U shoal -d postgres -At "$@"; }

# setup: fresh tables, funded accounts, statistics and a checkpoint.
setup() {
    sql <<SQL
DROP TABLE IF EXISTS transfers, accounts;
CREATE TABLE accounts (id integer PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE transfers (id bigserial PRIMARY KEY, src integer NOT NULL, dst integer NOT NULL,
                        amount bigint NOT NULL, status text NOT NULL,
                        created timestamptz NOT NULL DEFAULT now());
INSERT INTO accounts SELECT g, $funding FROM generate_series(1, $accounts) AS g;
VACUUM ANALYZE accounts;
CHECKPOINT;
SQL
}

# The pgbench script of one transfer; $1 is how the source is drawn.
transfer_script() {
    cat <<PGBENCH
\\set src $1
\\set other random(1, :accounts - 1)
\\set dst CASE WHEN :other >= :src THEN :other + 1 ELSE :other END
\\set amount random(1, 100)
\\set lo least(:src, :dst)
\\set hi greatest(:src, :dst)
BEGIN;
SELECT balance AS lo_balance FROM accounts WHERE id = :lo FOR UPDATE \\gset
SELECT balance AS hi_balance FROM accounts WHERE id = :hi FOR UPDATE \\gset
\\set src_balance CASE WHEN :src = :lo THEN :lo_balance ELSE :hi_balance END
\\if :src_balance >= :amount
UPDATE accounts SET balance = balance - :amount WHERE id = :src;
UPDATE accounts SET balance = balance + :amount WHERE id = :dst;
INSERT INTO transfers (src, dst, amount, status) VALUES (:src, :dst, :amount, 'completed');
\\else
INSERT INTO transfers (src, dst, amount, status) VALUES (:src, :dst, :amount, 'failed');
\\endif
COMMIT;
PGBENCH
}

# books: "balanced" or what broke. The sum is unchanged and each account
# holds its funding, less its debits, plus its credits.
books() {
    sql <<SQL
WITH moves AS (
    SELECT src AS id, -amount AS delta FROM transfers WHERE status = 'completed'
    UNION ALL
    SELECT dst, amount FROM transfers WHERE status = 'completed'),
net AS (SELECT id, sum(delta) AS delta FROM moves GROUP BY id),
wrong AS (
    SELECT a.id FROM accounts a LEFT JOIN net n USING (id)
    WHERE a.balance <> $funding + coalesce(n.delta, 0))
SELECT CASE
    WHEN (SELECT count(*) FROM accounts) <> $accounts THEN 'accounts missing'
    WHEN (SELECT sum(balance) FROM accounts) <> $funding::numeric * $accounts
        THEN 'sum of balances changed: ' || (SELECT sum(balance) FROM accounts)
    WHEN EXISTS (SELECT 1 FROM wrong)
        THEN (SELECT count(*) FROM wrong) || ' accounts do not match their transfers'
    ELSE 'balanced' END;
SQL
}

# run MODE: one pgbench run; sets r_* for the report.
run() {
    local m=$1 source out
    case $m in uniform) source="random(1, :accounts)" ;; hot) source=1 ;; esac
    transfer_script "$source" >"$dir/$m.sql"
    setup
    say "$m: pgbench, $clients clients, $seconds s, $accounts accounts"
    local jobs
    jobs=$(nproc)
    ((jobs <= clients)) || jobs=$clients
    if ! out=$("$PGBIN/pgbench" -n -h "$dir" -U shoal -M prepared -c "$clients" -j "$jobs" \
        -T "$seconds" -D accounts="$accounts" --random-seed="$seed" -f "$dir/$m.sql" postgres 2>"$dir/$m.err"); then
        cat "$dir/$m.err" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$out" >"$dir/$m.out"
    r_tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' <<<"$out")
    r_latency=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' <<<"$out")
    r_pgfailed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
    [ -n "$r_tps" ] || { echo "$out" >&2; die "no tps in pgbench's output"; }
    r_completed=$(sql -c "SELECT count(*) FROM transfers WHERE status = 'completed'")
    r_failed=$(sql -c "SELECT count(*) FROM transfers WHERE status = 'failed'")
    r_books=$(books)
}

modes=(uniform hot)
[ "$mode" = both ] || modes=("$mode")
version=$("$PGBIN/postgres" --version | awk '{print $3}')
echo "pg-baseline: PostgreSQL $version, $accounts accounts, $clients clients, $seconds s per mode," \
    "synchronous_commit on, unix socket"
balanced=true
json_modes=""
for m in "${modes[@]}"; do
    run "$m"
    printf '  %-8s %8.0f transfers/s (%s completed, %s failed, %s errors), latency avg %s ms, books %s\n' \
        "$m" "$r_tps" "$r_completed" "$r_failed" "${r_pgfailed:-0}" "$r_latency" \
        "$([ "$r_books" = balanced ] && echo balance || echo "BROKEN: $r_books")"
    [ "$r_books" = balanced ] || balanced=false
    json_modes+=$(printf '%s"%s":{"transfers_per_second":%s,"completed":%s,"failed":%s,"errors":%s,"latency_ms_avg":%s,"balanced":%s}' \
        "${json_modes:+,}" "$m" "$r_tps" "$r_completed" "$r_failed" "${r_pgfailed:-0}" "${r_latency:-null}" \
        "$([ "$r_books" = balanced ] && echo true || echo false)")
done
if $json; then
    printf '{"postgres":"%s","accounts":%s,"clients":%s,"seconds":%s,"seed":%s,"balanced":%s,%s}\n' \
        "$version" "$accounts" "$clients" "$seconds" "$seed" "$balanced" "$json_modes"
fi
$balanced || exit 1
