#!/bin/sh
# Builds ringway (release) and installs it:
#
#   $DESTDIR$BINDIR/ringway                        the binary     (BINDIR=$PREFIX/bin, PREFIX=/usr/local)
#   $DESTDIR$SYSCONFDIR/ringway/ringway.conf       conf/example.conf, only if no config is there
#                                                  yet, with pid $RUNSTATEDIR/ringway/ringway.pid
#                                                  and its logs in $LOGDIR (/var/log/ringway)
#                                                                             (SYSCONFDIR=/etc)
#   $DESTDIR$UNITDIR/ringway.service               tuning/ringway.service, with these paths
#                                                          (UNITDIR=/etc/systemd/system)
#
# Usage: ./install.sh [--binary FILE] [--no-unit]
#   --binary FILE  install FILE instead of building (e.g. `cargo build --release` as yourself,
#                  then `sudo ./install.sh --binary target/release/ringway`)
#   --no-unit      leave the systemd unit out
# Environment: PREFIX, BINDIR, DESTDIR (a staging root for packaging), SYSCONFDIR, UNITDIR,
# RUNSTATEDIR (/run), LOGDIR, CARGO (cargo), CARGO_TARGET_DIR. packaging/deb/build uses it.
#
# It creates no user and starts nothing; it prints what is left to do.
set -eu

repo=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
UNITDIR=${UNITDIR:-/etc/systemd/system}
RUNSTATEDIR=${RUNSTATEDIR:-/run}
LOGDIR=${LOGDIR:-/var/log/ringway}
BINDIR=${BINDIR:-$PREFIX/bin}
DESTDIR=${DESTDIR:-}
binary=
unit=yes

while [ $# -gt 0 ]; do
    case $1 in
        --binary)
            [ $# -ge 2 ] || { echo "install.sh: --binary needs a file" >&2; exit 2; }
            binary=$2
            shift 2
            ;;
        --no-unit) unit=no; shift ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "install.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done

if [ -z "$binary" ]; then
    echo "building ringway (release; needs Rust and a C compiler, see README.md)"
    (cd "$repo" && "${CARGO:-cargo}" build --release --locked)
    binary=${CARGO_TARGET_DIR:-$repo/target}/release/ringway
fi
[ -f "$binary" ] && [ -x "$binary" ] || { echo "install.sh: no executable at $binary" >&2; exit 1; }

bindir=$BINDIR
confdir=$SYSCONFDIR/ringway
conf=$confdir/ringway.conf

mkdir -p "$DESTDIR$bindir"
install -m 0755 "$binary" "$DESTDIR$bindir/ringway"
echo "installed $DESTDIR$bindir/ringway"

if [ -e "$DESTDIR$conf" ]; then
    echo "kept $DESTDIR$conf (a config is already there)"
else
    mkdir -p "$DESTDIR$confdir"
    # The example's relative pid and logs would land in $confdir, read-only to the service.
    sed -e "s|^pid .*;|pid $RUNSTATEDIR/ringway/ringway.pid;|" \
        -e "s|^\( *access_log\) [^ ;]*|\1 $LOGDIR/access.log|" \
        -e "s|^\( *error_log\) [^ ;]*|\1 $LOGDIR/error.log|" \
        "$repo/conf/example.conf" \
        > "$DESTDIR$conf.tmp"
    chmod 0644 "$DESTDIR$conf.tmp"
    mv "$DESTDIR$conf.tmp" "$DESTDIR$conf"
    echo "installed $DESTDIR$conf (from conf/example.conf)"
fi

if [ "$unit" = yes ]; then
    mkdir -p "$DESTDIR$UNITDIR"
    sed -e "s|/usr/local/bin/ringway|$bindir/ringway|g" \
        -e "s|/etc/ringway/ringway.conf|$conf|g" \
        "$repo/tuning/ringway.service" > "$DESTDIR$UNITDIR/ringway.service.tmp"
    chmod 0644 "$DESTDIR$UNITDIR/ringway.service.tmp"
    mv "$DESTDIR$UNITDIR/ringway.service.tmp" "$DESTDIR$UNITDIR/ringway.service"
    echo "installed $DESTDIR$UNITDIR/ringway.service"
fi

if [ -z "$DESTDIR" ]; then
    echo
    echo "Next:"
    echo "  $bindir/ringway -t -c $conf"
    if [ "$unit" = yes ]; then
        echo "  useradd --system --no-create-home --shell /usr/sbin/nologin ringway"
        echo "  systemctl daemon-reload && systemctl enable --now ringway"
    fi
    echo "tuning/README.md covers the host settings for an edge host."
fi
