#!/bin/sh
# First start on an empty data directory: create the database and its user, as the official
# mysql image does from the same variables, then source /docker-entrypoint-initdb.d/*.sh with its
# docker_process_sql (SQL as root over the socket); then run the server in the foreground.
set -eu
: "${MYSQL_DATABASE:?}" "${MYSQL_USER:?}" "${MYSQL_PASSWORD:?}"
if [ ! -d /var/lib/mysql/mysql ]; then
    chown mysql:mysql /var/lib/mysql
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
    root_password=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
    pid=$!
    until mariadb-admin --socket=/run/mysqld/init.sock ping --silent 2>/dev/null; do sleep 0.3; done
    mariadb --socket=/run/mysqld/init.sock <<SQL
CREATE DATABASE \`$MYSQL_DATABASE\`;
CREATE USER '$MYSQL_USER'@'%' IDENTIFIED BY '$MYSQL_PASSWORD';
GRANT ALL ON \`$MYSQL_DATABASE\`.* TO '$MYSQL_USER'@'%';
SQL
    docker_process_sql() { mariadb --socket=/run/mysqld/init.sock "$@"; }
    for script in /docker-entrypoint-initdb.d/*.sh; do
        [ -e "$script" ] || continue
        # shellcheck disable=SC1090 # the deployment's own init scripts
        . "$script"
    done
    # SHUTDOWN from SQL, not kill: with every capability dropped but the few compose adds back,
    # root may not signal the server running as mysql, and a second server would then start
    # on the same data directory.
    mariadb --socket=/run/mysqld/init.sock \
        -e "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password'; SHUTDOWN;"
    wait "$pid"
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0
