"""Recipes of the database stand-ins: Debian's PostgreSQL and MariaDB behind the
environment contract of the official postgres and mysql images.

What the plugin relies on, from docker-library/postgres and docker-library/mysql:
- postgres: POSTGRES_PASSWORD (required), POSTGRES_USER (default postgres) and
  POSTGRES_DB (default: the user) make the superuser and its database at first start;
  data in /var/lib/postgresql/data; port 5432; password logins from other hosts;
  ``pg_isready`` and ``psql`` in the image.
- mysql: MYSQL_ROOT_PASSWORD, MYSQL_DATABASE, MYSQL_USER and MYSQL_PASSWORD (the user
  gets every right on the database); data in /var/lib/mysql; port 3306; ``mysqladmin``
  and ``mysql`` in the image.
Both initialise with a server that listens on its socket only, so a client asking over
TCP waits for the real one.
"""

from __future__ import annotations

POSTGRES_ENTRYPOINT = b"""#!/bin/sh
# Test stand-in for the official postgres image: Debian's PostgreSQL 15.
set -eu
log() { echo "entrypoint: $*" >&2; }
: "${POSTGRES_PASSWORD:?is required: the official image refuses to start without it}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
bin=/usr/lib/postgresql/15/bin
export PGDATA=/var/lib/postgresql/data
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
as_postgres() { runuser -u postgres -- "$@"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile=$(mktemp)
    printf '%s\\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    as_postgres "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$pwfile" \\
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    as_postgres "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$db" != postgres ]; then
        as_postgres psql -v ON_ERROR_STOP=1 -U "$user" -d postgres \\
            -c "CREATE DATABASE \\"$db\\"" >/dev/null
    fi
    as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    log "initialised $PGDATA with user $user and database $db"
fi
exec runuser -u postgres -- "$bin/postgres" -D "$PGDATA" -c listen_addresses='*'
"""

MYSQL_ENTRYPOINT = b"""#!/bin/sh
# Test stand-in for the official mysql image: Debian's MariaDB 10.11.
set -eu
log() { echo "entrypoint: $*" >&2; }
: "${MYSQL_ROOT_PASSWORD:?is required here (the official image also takes other ways)}"
datadir=/var/lib/mysql
mkdir -p "$datadir" /run/mysqld
chown mysql:mysql "$datadir" /run/mysqld
sql_string() { printf "'%s'" "$(printf %s "$1" | sed "s/'/''/g")"; }

if [ ! -d "$datadir/mysql" ]; then
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db >/dev/null
    socket=/run/mysqld/init.sock
    mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
    init=$!
    tries=0
    until mariadb-admin --socket="$socket" ping --silent 2>/dev/null; do
        tries=$((tries + 1))
        [ "$tries" -lt 60 ] || { log "the initialising server did not start"; exit 1; }
        sleep 1
    done
    {
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$MYSQL_ROOT_PASSWORD");"
        if [ -n "${MYSQL_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \\`$MYSQL_DATABASE\\`;"
        fi
        if [ -n "${MYSQL_USER:-}" ]; then
            echo "CREATE USER $(sql_string "$MYSQL_USER")@'%'" \\
                "IDENTIFIED BY $(sql_string "${MYSQL_PASSWORD:-}");"
            if [ -n "${MYSQL_DATABASE:-}" ]; then
                echo "GRANT ALL ON \\`$MYSQL_DATABASE\\`.* TO $(sql_string "$MYSQL_USER")@'%';"
            fi
        fi
    } | mariadb --socket="$socket" -u root
    kill "$init"
    wait "$init" || :
    log "initialised $datadir"
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306
"""

ENTRYPOINTS = {"postgres": POSTGRES_ENTRYPOINT, "mysql": MYSQL_ENTRYPOINT}

VOLUMES = {"postgres": "/var/lib/postgresql/data", "mysql": "/var/lib/mysql"}
PORTS = {"postgres": "5432/tcp", "mysql": "3306/tcp"}


def dockerfile(name: str, base: str) -> str:
    # The official images' client names; Debian's MariaDB names its own "mariadb-*".
    # Its package made a data directory at install time; the official image starts
    # with an empty one and initialises it, which is what the entrypoint looks for.
    links = (
        "RUN for n in mysql:mariadb mysqladmin:mariadb-admin; do "
        '[ -e "/usr/bin/${n%%:*}" ] || ln -s "${n#*:}" "/usr/bin/${n%%:*}"; done; '
        "rm -rf /var/lib/mysql/*\n"
        if name == "mysql"
        else "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:"
        "/usr/sbin:/usr/bin:/sbin:/bin\n"
    )
    return (
        f"FROM {base}\n"
        "COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh\n"
        f"{links}"
        f'VOLUME ["{VOLUMES[name]}"]\n'
        f"EXPOSE {PORTS[name]}\n"
        'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]\n'
    )
