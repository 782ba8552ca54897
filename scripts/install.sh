#!/bin/sh
# Install edgeos and run it as a service.
#
#   curl -sfL https://…/install.sh | INSTALL_EDGEOS_BINARY=https://…/edgeos-linux-arm64 sh -
#   INSTALL_EDGEOS_BINARY=./dist/edgeos-linux-amd64 sh install.sh
#   EDGEOS_URL=https://server:6443 EDGEOS_TOKEN=K10… INSTALL_EDGEOS_BINARY=… sh install.sh
#
# Environment:
#   INSTALL_EDGEOS_BINARY     path or http(s) URL of the edgeos binary to install
#                             (default: bin/edgeos or dist/edgeos-linux-<arch> beside this script);
#                             from a URL, <URL>.xz is fetched instead when it exists
#                             (checked against <URL>.xz.sha256), unless
#                             INSTALL_EDGEOS_RAW is set; a URL ending in .xz is
#                             the compressed one itself
#   INSTALL_EDGEOS_SHA256     its expected sha256; otherwise <binary>.sha256 is used
#                             (fetched for a URL, read beside a file), or, for a
#                             file only, the check is skipped with a warning
#   INSTALL_EDGEOS_EXEC       command and flags for the service
#                             (default: "server", or "agent" when EDGEOS_URL is set)
#   INSTALL_EDGEOS_BIN_DIR    where the binary and scripts go (default /usr/local/bin)
#   INSTALL_EDGEOS_SKIP_START do not start or restart the service
#   INSTALL_EDGEOS_SKIP_ENABLE do not enable the service at boot
#   INSTALL_EDGEOS_ROOT       install under this directory instead of / (for
#                             image builders and tests): files only, nothing is
#                             started, enabled or checked against this host
#   EDGEOS_URL, EDGEOS_TOKEN  server and join token of an agent; written to the
#                             service's environment file (mode 0600)
#
# Idempotent: running it again updates what changed and restarts the service.
set -eu

info() { echo "[edgeos] $*"; }
fatal() {
	echo "[edgeos] error: $*" >&2
	exit 1
}

ROOT=${INSTALL_EDGEOS_ROOT:-}
ROOT=${ROOT%/}
BIN_DIR=${INSTALL_EDGEOS_BIN_DIR:-/usr/local/bin}
SYSTEMD_DIR=/etc/systemd/system
ENV_FILE=/etc/systemd/system/edgeos.service.env
OPENRC_FILE=/etc/init.d/edgeos
CONFIG_DIR=/etc/edgeos
PID_FILE=/var/run/edgeos.pid
LOG_FILE=/var/log/edgeos.log
MANIFEST=/etc/edgeos/installed-files

[ "$(id -u)" = 0 ] || fatal "must run as root (try: sudo sh install.sh)"

# ---- what to run --------------------------------------------------------
if [ -n "${INSTALL_EDGEOS_EXEC:-}" ]; then
	EXEC=$INSTALL_EDGEOS_EXEC
elif [ -n "${EDGEOS_URL:-}" ]; then
	EXEC=agent
else
	EXEC=server
fi
case $EXEC in
server | server\ * | agent | agent\ *) ;;
*) EXEC="server $EXEC" ;; # flags only, as k3s takes them
esac
has_flag() { case " $EXEC " in *" $1 "* | *" $1="*) return 0 ;; esac; return 1; }
case $EXEC in
agent*)
	[ -n "${EDGEOS_URL:-}" ] || has_flag --server || fatal "an agent needs EDGEOS_URL (the server, https://HOST:6443)"
	[ -n "${EDGEOS_TOKEN:-}" ] || has_flag --token || has_flag --token-file || fatal "an agent needs EDGEOS_TOKEN (the server's join token)"
	;;
esac

# the flag value the killall and uninstall scripts need
flag_value() { # flag_value FLAG DEFAULT
	v=$2
	prev=
	for word in $EXEC; do
		case $word in "$1"=*) v=${word#"$1"=} ;; esac
		[ "$prev" = "$1" ] && v=$word
		prev=$word
	done
	echo "$v"
}
DATA_DIR=$(flag_value --data-dir /var/lib/edgeos)
case $DATA_DIR in /*) ;; *) fatal "--data-dir $DATA_DIR must be an absolute path" ;; esac

# ---- the binary ----------------------------------------------------------
arch() {
	case $(uname -m) in
	x86_64 | amd64) echo amd64 ;;
	aarch64 | arm64) echo arm64 ;;
	armv7l | armv7 | armhf) echo armv7 ;;
	*) fatal "unsupported architecture $(uname -m)" ;;
	esac
}
here=$(cd "$(dirname "$0")" 2>/dev/null && pwd || echo .)
SOURCE=${INSTALL_EDGEOS_BINARY:-}
if [ -z "$SOURCE" ]; then
	for c in "$here/../bin/edgeos" "$here/../dist/edgeos-linux-$(arch)" "$here/edgeos-linux-$(arch)"; do
		if [ -f "$c" ]; then
			SOURCE=$c
			break
		fi
	done
	[ -n "$SOURCE" ] || fatal "no edgeos binary: set INSTALL_EDGEOS_BINARY to its path or URL"
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
packed_verified=
case $SOURCE in
http://* | https://*)
	command -v curl >/dev/null 2>&1 || fatal "curl is needed to download $SOURCE"
	# the release's xz-compressed binary is a quarter of the raw one: taken
	# when it is there and xz is here, its own checksum checked first
	case $SOURCE in
	*.xz) packed=$SOURCE raw=${SOURCE%.xz} ;;
	*) packed=$SOURCE.xz raw=$SOURCE ;;
	esac
	if [ -z "${INSTALL_EDGEOS_RAW:-}" ] && command -v xz >/dev/null 2>&1 && curl -fsSL -o "$TMP/edgeos.xz" "$packed" 2>/dev/null; then
		info "downloaded $packed"
		curl -fsSL -o "$TMP/edgeos.xz.sha256" "$packed.sha256" || fatal "no checksum at $packed.sha256"
		have=$(sha256sum "$TMP/edgeos.xz" | cut -d' ' -f1)
		[ "$have" = "$(cut -d' ' -f1 <"$TMP/edgeos.xz.sha256")" ] || fatal "checksum mismatch for $packed: got $have"
		xz -dc "$TMP/edgeos.xz" >"$TMP/edgeos" || fatal "$packed does not decompress"
		rm -f "$TMP/edgeos.xz"
		# the raw binary's sum, when published, checks the decompression too
		if [ -z "${INSTALL_EDGEOS_SHA256:-}" ] && curl -fsSL -o "$TMP/edgeos.sha256" "$raw.sha256" 2>/dev/null; then
			INSTALL_EDGEOS_SHA256=$(cut -d' ' -f1 <"$TMP/edgeos.sha256")
		fi
		packed_verified=1
	else
		case $SOURCE in *.xz) fatal "cannot fetch $SOURCE (or xz is missing here)" ;; esac
		info "downloading $SOURCE"
		curl -fsSL -o "$TMP/edgeos" "$SOURCE" || fatal "downloading $SOURCE failed"
		if [ -z "${INSTALL_EDGEOS_SHA256:-}" ]; then
			curl -fsSL -o "$TMP/edgeos.sha256" "$SOURCE.sha256" || fatal "no checksum at $SOURCE.sha256: set INSTALL_EDGEOS_SHA256"
			INSTALL_EDGEOS_SHA256=$(cut -d' ' -f1 <"$TMP/edgeos.sha256")
		fi
	fi
	;;
*)
	[ -f "$SOURCE" ] || fatal "$SOURCE is not a file"
	cp "$SOURCE" "$TMP/edgeos"
	if [ -z "${INSTALL_EDGEOS_SHA256:-}" ] && [ -f "$SOURCE.sha256" ]; then
		INSTALL_EDGEOS_SHA256=$(cut -d' ' -f1 <"$SOURCE.sha256")
	fi
	;;
esac
if [ -n "${INSTALL_EDGEOS_SHA256:-}" ]; then
	have=$(sha256sum "$TMP/edgeos" | cut -d' ' -f1)
	[ "$have" = "$INSTALL_EDGEOS_SHA256" ] || fatal "checksum mismatch for $SOURCE: got $have, want $INSTALL_EDGEOS_SHA256"
	info "checksum verified"
elif [ -n "$packed_verified" ]; then
	info "checksum of the compressed binary verified"
else
	info "warning: no checksum for $SOURCE (set INSTALL_EDGEOS_SHA256 to verify it)"
fi
chmod 0755 "$TMP/edgeos"
"$TMP/edgeos" --version >/dev/null 2>&1 || fatal "$SOURCE does not run here (wrong architecture?)"

if [ -z "$ROOT" ]; then
	"$TMP/edgeos" check-config || fatal "this host cannot run an edgeos node: see the findings above"
fi

# ---- files ---------------------------------------------------------------
installed=
# put MODE PATH: install stdin at ROOT/PATH, replacing it only when it
# differs. Not in a pipeline: it records what it installed.
put() {
	mkdir -p "$ROOT$(dirname "$2")"
	cat >"$TMP/put"
	if ! cmp -s "$TMP/put" "$ROOT$2" 2>/dev/null; then
		cp "$TMP/put" "$ROOT$2.new"
		chmod "$1" "$ROOT$2.new"
		mv -f "$ROOT$2.new" "$ROOT$2"
		CHANGED=1
	fi
	chmod "$1" "$ROOT$2"
	installed="$installed $2"
}
CHANGED=

put 0755 "$BIN_DIR/edgeos" <"$TMP/edgeos"
info "installed $BIN_DIR/edgeos ($("$TMP/edgeos" --version | head -1))"
if [ ! -e "$ROOT$BIN_DIR/kubectl" ] && { [ -n "$ROOT" ] || ! command -v kubectl >/dev/null 2>&1; }; then
	ln -s edgeos "$ROOT$BIN_DIR/kubectl"
	info "linked $BIN_DIR/kubectl to edgeos"
fi
if [ -L "$ROOT$BIN_DIR/kubectl" ] && [ "$(readlink "$ROOT$BIN_DIR/kubectl")" = edgeos ]; then
	installed="$installed $BIN_DIR/kubectl"
fi

# the environment file: only EDGEOS_* variables, never world-readable
if env | grep -E '^EDGEOS_[A-Z0-9_]+=' | grep -q '["\\$`]'; then
	fatal "EDGEOS_* values must not contain quotes, backslashes, \$ or backticks"
fi
{
	echo "# edgeos service environment, written by install.sh"
	env | grep -E '^EDGEOS_[A-Z0-9_]+=' | sort | sed 's/=\(.*\)$/="\1"/' || true
} >"$TMP/env"
put 0600 "$ENV_FILE" <"$TMP/env"

has_systemd() { [ -d /run/systemd/system ]; }
has_openrc() { command -v openrc-run >/dev/null 2>&1 || [ -x /sbin/openrc-run ]; }

put 0644 "$SYSTEMD_DIR/edgeos.service" <<EOF
[Unit]
Description=edgeos: lightweight Kubernetes for the edge
Documentation=https://github.com/edgeos/edgeos
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
EnvironmentFile=-$ENV_FILE
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStartPre=-/sbin/modprobe vxlan
ExecStart=$BIN_DIR/edgeos $EXEC
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s

[Install]
WantedBy=multi-user.target
EOF

if [ -n "$ROOT" ] || { has_openrc && ! has_systemd; }; then
	put 0755 "$OPENRC_FILE" <<EOF
#!/sbin/openrc-run
# edgeos, written by install.sh
description="edgeos: lightweight Kubernetes for the edge"
command="$BIN_DIR/edgeos"
command_args="$EXEC"
command_background=true
pidfile="$PID_FILE"
output_log="$LOG_FILE"
error_log="$LOG_FILE"
supervisor=supervise-daemon
respawn_delay=5
respawn_max=0

depend() {
	need net
	after firewall
}

start_pre() {
	set -a
	[ -f "$ENV_FILE" ] && . "$ENV_FILE"
	set +a
	modprobe -q br_netfilter 2>/dev/null || true
	modprobe -q overlay 2>/dev/null || true
	modprobe -q vxlan 2>/dev/null || true
}
EOF
fi

put 0755 "$BIN_DIR/edgeos-killall.sh" <<EOF
#!/bin/sh
# Stop edgeos and everything it started on this node: the service, then
# 'edgeos killall' (containers, mounts, links, iptables rules). Written by
# install.sh.
set -u
[ "\$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
if [ -d /run/systemd/system ]; then systemctl stop edgeos 2>/dev/null || true; fi
if command -v rc-service >/dev/null 2>&1; then rc-service edgeos stop 2>/dev/null || true; fi
"$BIN_DIR/edgeos" killall --data-dir "$DATA_DIR" || exit 1
rm -f "$PID_FILE"
EOF

put 0755 "$BIN_DIR/edgeos-uninstall.sh" <<EOF
#!/bin/sh
# Remove edgeos from this machine: stop it ('edgeos uninstall', which also
# removes the data dir and the configuration), then remove its service,
# binary and scripts. Written by install.sh.
set -u
[ "\$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }
ROOT="$ROOT"
if [ -z "\$ROOT" ]; then
	if [ -d /run/systemd/system ]; then
		systemctl disable --now edgeos 2>/dev/null || true
		rm -f /etc/systemd/system/multi-user.target.wants/edgeos.service
	fi
	if command -v rc-update >/dev/null 2>&1; then rc-update delete edgeos default 2>/dev/null || true; fi
	if command -v rc-service >/dev/null 2>&1; then rc-service edgeos stop 2>/dev/null || true; fi
	# stops what is left and removes the data dir and $CONFIG_DIR
	"$BIN_DIR/edgeos" uninstall --data-dir "$DATA_DIR" || exit 1
fi
for f in $installed "$BIN_DIR/edgeos-killall.sh" "$MANIFEST" "$LOG_FILE" "$PID_FILE"; do
	rm -f "\$ROOT\$f"
done
rm -rf "\$ROOT$DATA_DIR" "\$ROOT$CONFIG_DIR"
if [ -z "\$ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload 2>/dev/null || true; fi
# directories install.sh made, if now empty
for d in "$BIN_DIR" "$SYSTEMD_DIR" /etc/systemd /etc/init.d /var/run /var/log /var/lib /var /etc /usr/local /usr; do
	[ -n "\$ROOT" ] && rmdir "\$ROOT\$d" 2>/dev/null || true
done
rm -f "\$ROOT$BIN_DIR/edgeos-uninstall.sh"
[ -n "\$ROOT" ] && rmdir "\$ROOT$BIN_DIR" "\$ROOT/usr/local" "\$ROOT/usr" "\$ROOT" 2>/dev/null
echo "[edgeos] uninstalled"
EOF

# shellcheck disable=SC2086 # the list is meant to split into paths
printf '%s\n' $installed "$BIN_DIR/edgeos-killall.sh" "$BIN_DIR/edgeos-uninstall.sh" | put 0644 "$MANIFEST"

# ---- start ---------------------------------------------------------------
if [ -n "$ROOT" ]; then
	info "files written under $ROOT; nothing started"
	exit 0
fi
if has_systemd; then
	systemctl daemon-reload
	[ -n "${INSTALL_EDGEOS_SKIP_ENABLE:-}" ] || systemctl enable edgeos >/dev/null
	if [ -z "${INSTALL_EDGEOS_SKIP_START:-}" ]; then
		info "starting edgeos (systemd)"
		systemctl restart edgeos
	fi
elif has_openrc; then
	[ -n "${INSTALL_EDGEOS_SKIP_ENABLE:-}" ] || rc-update add edgeos default >/dev/null
	if [ -z "${INSTALL_EDGEOS_SKIP_START:-}" ]; then
		info "starting edgeos (openrc)"
		rc-service edgeos restart
	fi
elif [ -z "${INSTALL_EDGEOS_SKIP_START:-}" ]; then
	# no service manager (a container, a test machine): run it directly
	if [ -f "$PID_FILE" ] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
		[ -z "$CHANGED" ] && { info "edgeos already running (pid $(cat "$PID_FILE"))"; exit 0; }
		kill "$(cat "$PID_FILE")" 2>/dev/null || true
		while kill -0 "$(cat "$PID_FILE")" 2>/dev/null; do sleep 1; done
	fi
	info "no systemd or openrc: starting edgeos directly, logging to $LOG_FILE"
	mkdir -p "$(dirname "$LOG_FILE")" "$(dirname "$PID_FILE")"
	# shellcheck disable=SC2086 # EXEC is a command line
	(
		set -a
		# shellcheck source=/dev/null
		. "$ENV_FILE"
		set +a
		exec nohup "$BIN_DIR/edgeos" $EXEC >>"$LOG_FILE" 2>&1
	) &
	echo $! >"$PID_FILE"
fi
info "done"
