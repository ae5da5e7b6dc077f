#!/bin/sh
# First start on an empty data directory: create the database and its user, as the official
# mysql image does from the same variables; then run the server in the foreground.
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
ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password';
SQL
    kill "$pid" && wait "$pid" || true
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0
