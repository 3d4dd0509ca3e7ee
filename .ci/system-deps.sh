#!/bin/sh
# Install the Debian packages Zhudian needs, if they are missing.
set -e
need=""
fc-list 2>/dev/null | grep -q "Noto Sans CJK" || need="$need fonts-noto-cjk"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v pdftoppm >/dev/null 2>&1 || need="$need poppler-utils"
# PostgreSQL + PostGIS: the store tests run against a throwaway cluster too (.ci/with-postgres.sh).
# postgresql-postgis is Debian's metapackage for postgresql-<default version>-postgis-3.
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need="$need postgresql"
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 || need="$need postgresql-postgis"
[ -z "$need" ] && exit 0
echo "Installing Debian packages:$need"
if [ "$(id -u)" = "0" ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "Please run as root: apt-get update && apt-get install -y$need" >&2; exit 1; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $need >/dev/null
