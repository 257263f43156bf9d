#!/usr/bin/env bash
# Installs the GPS agent as a systemd service on Raspberry Pi OS or Debian:
#   /opt/gps-agent            the program: sources, production node_modules, dist/gps-agent.mjs bundle
#   /usr/local/bin/gps-agent  command-line wrapper (gps-agent status, gps-agent run --help, ...)
#   /etc/gps-agent/agent.env  settings (from agent.env.example; never overwritten)
#   gps-agent user            via systemd-sysusers (member of dialout through the unit)
#   gps-agent.service         enabled and started (unless --root or --no-start)
#
# usage: sudo systemd/install.sh [--root DIR] [--no-start] [--deps npm|link|none] [--node PATH]
#   --root DIR     install into DIR as if it were / (also DESTDIR=DIR); starts nothing
#   --no-start     install and enable, but do not start
#   --deps npm     npm ci --omit=dev in the installed tree (default; needs the npm registry)
#   --deps link    symlink this checkout's node_modules (development and tests)
#   --deps none    leave node_modules alone
#   --node PATH    node binary for ExecStart (default: `command -v node`; must be >= 20)
set -euo pipefail

ROOT="${DESTDIR:-}"
START=yes
DEPS=npm
NODE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; shift ;;
    --no-start) START=no; shift ;;
    --deps) DEPS="${2:?--deps needs npm, link or none}"; shift 2 ;;
    --deps=*) DEPS="${1#--deps=}"; shift ;;
    --node) NODE="${2:?--node needs a path}"; shift 2 ;;
    # The comment block at the top, up to the first line that is not a comment.
    -h|--help) sed -n '2,/^[^#]/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$DEPS" in npm|link|none) ;; *) echo "install.sh: --deps $DEPS: expected npm, link or none" >&2; exit 2 ;; esac
[ -n "$ROOT" ] && START=no && ROOT="$(cd "$ROOT" && pwd)"

SRC="$(cd "$(dirname "$0")/.." && pwd)"
APP=/opt/gps-agent
say() { echo "install.sh: $*"; }

if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  echo "install.sh: run as root (sudo), or use --root DIR" >&2
  exit 1
fi

NODE="${NODE:-$(command -v node || true)}"
if [ -z "$NODE" ] || [ ! -x "$NODE" ]; then
  echo "install.sh: node not found; install Node.js 20 or newer first" >&2
  exit 1
fi
NODE_MAJOR="$("$NODE" -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 20 ]; then
  echo "install.sh: $NODE is Node $NODE_MAJOR; the agent needs 20 or newer" >&2
  exit 1
fi
command -v systemd-notify >/dev/null || say "warning: systemd-notify not found (the systemd package provides it)"

# 1. The program: sources only (no tests, no cloud code), then its production dependencies.
say "installing the agent into $ROOT$APP"
install -d -m 0755 "$ROOT$APP"
rm -rf "$ROOT$APP/agent" "$ROOT$APP/shared"
(cd "$SRC" && tar -cf - agent shared package.json package-lock.json tsconfig.json) | tar -xf - -C "$ROOT$APP"
chmod -R go-w "$ROOT$APP"
case "$DEPS" in
  npm)
    say "npm ci --omit=dev (builds better-sqlite3 and serialport for this machine)"
    (cd "$ROOT$APP" && npm ci --omit=dev --no-audit --no-fund)
    ;;
  link)
    rm -rf "$ROOT$APP/node_modules"
    ln -s "$SRC/node_modules" "$ROOT$APP/node_modules"
    ;;
  none) ;;
esac
# One bundled module runs leaner and faster than the sources through tsx (see agent/build.ts).
if [ -e "$ROOT$APP/node_modules/esbuild" ]; then
  say "bundling the agent into $APP/dist/gps-agent.mjs"
  (cd "$ROOT$APP" && "$NODE" --import tsx agent/build.ts "$ROOT$APP/dist/gps-agent.mjs" >/dev/null)
else
  say "warning: no node_modules in $ROOT$APP, agent not bundled (use --deps npm or link)"
fi

# 2. The command-line wrapper, so `sudo gps-agent status` finds the service's outbox.
install -d -m 0755 "$ROOT/usr/local/bin"
cat > "$ROOT/usr/local/bin/gps-agent" <<WRAPPER
#!/bin/sh
# GPS agent command line (installed by systemd/install.sh). Same outbox as the service.
export AGENT_DB="\${AGENT_DB:-/var/lib/gps-agent/outbox.db}"
cd $APP && exec $NODE $APP/dist/gps-agent.mjs "\$@"
WRAPPER
chmod 0755 "$ROOT/usr/local/bin/gps-agent"

# 3. The service user (systemd-sysusers: idempotent, and works on a --root tree too).
install -d -m 0755 "$ROOT/usr/lib/sysusers.d" "$ROOT/etc"
install -m 0644 "$SRC/systemd/gps-agent.sysusers" "$ROOT/usr/lib/sysusers.d/gps-agent.conf"
if [ -n "$ROOT" ]; then
  systemd-sysusers --root="$ROOT" "$ROOT/usr/lib/sysusers.d/gps-agent.conf"
else
  systemd-sysusers /usr/lib/sysusers.d/gps-agent.conf
fi

# 4. Settings: the example, once; never overwrite what the operator wrote.
install -d -m 0755 "$ROOT/etc/gps-agent"
if [ ! -e "$ROOT/etc/gps-agent/agent.env" ]; then
  install -m 0600 "$SRC/systemd/agent.env.example" "$ROOT/etc/gps-agent/agent.env"
  say "wrote $ROOT/etc/gps-agent/agent.env: set DEVICE_ID and KAFKA_* there"
fi

# 5. The unit, with this machine's node in ExecStart.
install -d -m 0755 "$ROOT/etc/systemd/system"
sed "s#^ExecStart=/usr/bin/node #ExecStart=$NODE #" "$SRC/systemd/gps-agent.service" \
  > "$ROOT/etc/systemd/system/gps-agent.service"
chmod 0644 "$ROOT/etc/systemd/system/gps-agent.service"
if [ -n "$ROOT" ]; then
  install -d -m 0755 "$ROOT/etc/systemd/system/multi-user.target.wants"
  ln -sf ../gps-agent.service "$ROOT/etc/systemd/system/multi-user.target.wants/gps-agent.service"
  say "installed into $ROOT (nothing started)"
  exit 0
fi

systemctl daemon-reload
systemctl enable gps-agent.service
if [ "$START" = no ]; then
  say "installed and enabled; start with: systemctl start gps-agent"
elif ! grep -Eq '^DEVICE_ID=.+' /etc/gps-agent/agent.env; then
  say "installed and enabled, NOT started: set DEVICE_ID in /etc/gps-agent/agent.env, then: systemctl start gps-agent"
else
  systemctl restart gps-agent.service
  say "started; check with: systemctl status gps-agent; sudo gps-agent status"
fi
