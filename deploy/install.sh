#!/usr/bin/env bash
# Installs Cordon from this (built) checkout onto a controller or an agent host.
#
# usage: deploy/install.sh controller|agent [--prefix DIR] [--root DIR] [--controller-name NAME ...]
#
#   controller|agent      what this host runs
#   --prefix DIR          where the package goes (default /opt/cordon)
#   --root DIR            install into DIR instead of / (an image or a test tree)
#   --controller-name N   a DNS name or IP the agents dial, for the controller
#                         certificate (repeatable; only when the PKI is created;
#                         default: localhost 127.0.0.1 ::1, plus this host's FQDN
#                         when --root is /)
#
# What it does (each step prints "installed", "updated" or "unchanged"; a
# second run changes nothing and says so):
#   $ROOT$PREFIX        dist/, package.json, package-lock.json, the production
#                       packages of node_modules/ (copied from this checkout,
#                       offline), deploy/pki/cordon-pki, deploy/*.example.json, systemd/
#   $ROOT/usr/bin       cordon-controller + cordonctl, or cordon-agent (symlinks)
#   $ROOT/usr/sbin      cordon-pki (controller)
#   $ROOT/etc/systemd/system   the units of the role
#   $ROOT/etc/cordon    controller.json or agent.json skeleton (never overwritten)
#   controller only: the system user `cordon` (sysusers.d), and a PKI in
#   $ROOT/etc/cordon/pki (cordon-pki init + issue-controller) if there is none.
# It never enables or starts a unit.
set -Eeuo pipefail
umask 022

die() { echo "install.sh: $*" >&2; exit 1; }
trap 'echo "install.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
role=''
prefix=/opt/cordon
root=/
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    controller|agent) [ -z "$role" ] || usage; role=$1 ;;
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift ;;
    --root) [ $# -ge 2 ] || usage; root=$2; shift ;;
    --controller-name) [ $# -ge 2 ] || usage; names+=("$2"); shift ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument: $1" >&2; usage ;;
  esac
  shift
done
[ -n "$role" ] || usage
[[ $prefix == /* ]] || die "--prefix must be an absolute path, got $prefix"
prefix=$(realpath -m -s "$prefix")
[ -d "$root" ] || die "--root $root is not a directory"
root=$(realpath "$root")
R=${root%/}   # prepended to every target path; empty when installing on /
[ "$(id -u)" = 0 ] || die "run as root: it sets owners and modes of keys and configs"

# ---- what must be there before anything is touched
for f in dist/controller/main.js dist/controller/cli/cordonctl.cjs dist/agent/main.js; do
  [ -f "$repo/$f" ] || die "$repo/$f is missing: run npm run build first"
done
[ -d "$repo/node_modules" ] || die "$repo/node_modules is missing: run npm ci first (install.sh copies it; it never downloads)"
command -v npm >/dev/null || die "npm is not installed (it tells the production packages of node_modules/)"
if [ "$role" = controller ]; then command -v openssl >/dev/null || die "openssl is not installed (apt-get install -y openssl)"; fi
newer=$(find "$repo/controller" "$repo/agent" "$repo/proto" "$repo/deploy" -name '*.ts' -newer "$repo/dist/controller/main.js" -print -quit 2>/dev/null || true)
[ -z "$newer" ] || echo "warning: $newer is newer than dist/: run npm run build if you changed the sources" >&2

changes=0
report() { # report VERB WHAT
  echo "$1: $2"
  [ "$1" = unchanged ] || [ "$1" = kept ] || [ "$1" = note ] || changes=$((changes + 1))
}

# ---- helpers (all idempotent)

# ensure_dir DIR MODE OWNER:GROUP
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [ ! -d "$dir" ]; then
    install -d -m "$mode" -o "${owner%:*}" -g "${owner#*:}" "$dir"
    report installed "$dir/"
  else
    ensure_owner_mode "$dir" "$mode" "$owner"
  fi
}

# ensure_owner_mode PATH MODE OWNER:GROUP (numeric or names)
ensure_owner_mode() {
  local path=$1 mode=$2 owner=$3 uid gid
  uid=$(to_uid "${owner%:*}"); gid=$(to_gid "${owner#*:}")
  if [ "$(stat -c '%a %u %g' "$path")" = "$(printf '%o' "$((8#$mode))") $uid $gid" ]; then
    report unchanged "$path ($mode $owner)"
  else
    chown "$uid:$gid" "$path"
    chmod "$mode" "$path"
    report updated "$path ($mode $owner)"
  fi
}

# install_file SRC DEST MODE: installs or replaces DEST when content or mode differ.
install_file() {
  local src=$1 dest=$2 mode=$3
  if [ -f "$dest" ] && cmp -s "$src" "$dest" && [ "$(stat -c %a "$dest")" = "$(printf '%o' "$((8#$mode))")" ] &&
     [ "$(stat -c '%u %g' "$dest")" = "0 0" ]; then
    report unchanged "$dest"
  else
    local verb=installed
    [ ! -e "$dest" ] || verb=updated
    install -D -m "$mode" -o 0 -g 0 "$src" "$dest"
    report "$verb" "$dest"
  fi
}

# install_config SRC DEST MODE OWNER:GROUP: a skeleton, never over an existing config.
install_config() {
  local src=$1 dest=$2 mode=$3 owner=$4
  if [ -e "$dest" ]; then
    report kept "$dest (exists; not overwritten; the skeleton is $prefix/deploy/$(basename "$src"))"
  else
    install -D -m "$mode" -o "$(to_uid "${owner%:*}")" -g "$(to_gid "${owner#*:}")" "$src" "$dest"
    report installed "$dest (skeleton: edit it)"
  fi
}

# ensure_symlink LINK TARGET (TARGET absolute as seen on the installed system;
# the link is written relative, so it resolves inside --root and on / alike).
ensure_symlink() {
  local link=$1 target=$2 rel
  mkdir -p "$(dirname "$link")"
  rel=$(realpath -m -s --relative-to="$(dirname "$link")" "$R$target")
  if [ -L "$link" ] && [ "$(readlink "$link")" = "$rel" ]; then
    report unchanged "$link -> $rel"
  else
    [ ! -e "$link" ] || [ -L "$link" ] || die "$link exists and is not a symlink; remove it first"
    ln -sfn "$rel" "$link"
    report linked "$link -> $rel"
  fi
}

# User and group names resolve in $ROOT's passwd/group when installing elsewhere.
to_uid() {
  case "$1" in
    [0-9]*) echo "$1" ;;
    root) echo 0 ;;
    *) if [ -z "$R" ]; then id -u "$1"; else awk -F: -v n="$1" '$1 == n { print $3; f = 1 } END { exit !f }' "$R/etc/passwd"; fi ;;
  esac
}
to_gid() {
  case "$1" in
    [0-9]*) echo "$1" ;;
    root) echo 0 ;;
    *) if [ -z "$R" ]; then getent group "$1" | cut -d: -f3; else awk -F: -v n="$1" '$1 == n { print $3; f = 1 } END { exit !f }' "$R/etc/group"; fi ;;
  esac
}
user_exists() {
  if [ -z "$R" ]; then id -u cordon >/dev/null 2>&1; else [ -f "$R/etc/passwd" ] && to_uid cordon >/dev/null 2>&1; fi
}

echo "install.sh: $role into ${root} (package in $prefix)"

# ---- the package
# The installed tree mirrors the checkout's paths: dist/, package.json,
# package-lock.json, deploy/pki/cordon-pki, deploy/*.example.json, systemd/, and
# node_modules/ with only the production packages, exactly as npm resolves
# them (`npm ls --omit=dev`, which reads node_modules and never the network).
# They are copied from this checkout (native addons such as sqlite3 already
# built for this machine); `npm ci --omit=dev` in the target would need the
# registry or a complete cache, and would rebuild sqlite3 with node-gyp.
dest=$R$prefix
bins=(dist/controller/main.js dist/controller/cli/cordonctl.cjs dist/agent/main.js deploy/pki/cordon-pki)
deps=$(cd "$repo" && npm ls --omit=dev --all --parseable 2>/dev/null) ||
  die "npm ls --omit=dev reports problems in $repo/node_modules (missing or invalid packages): run npm ci first"
files=$(
  cd "$repo"
  find dist \( -type f -o -type l \) -print
  # The .proto files: the controller serves them through gRPC reflection.
  find proto/cordon -name '*.proto' -print
  printf '%s\n' package.json package-lock.json deploy/pki/cordon-pki deploy/controller.example.json \
    deploy/agent.example.json systemd/README.md systemd/cordon.sysusers systemd/*.service
  while IFS= read -r d; do
    d=${d#"$repo"/}
    case "$d" in node_modules/*) find "$d" -path "$d/node_modules" -prune -o \( -type f -o -type l \) -print ;; esac
  done <<<"$deps"
)
files=$(LC_ALL=C sort -u <<<"$files")
sums() { (cd "$1" && tr '\n' '\0' <<<"$files" | xargs -0 sha256sum --); }
present() { (cd "$1" && find . -mindepth 1 \( -type f -o -type l \) -printf '%P\n' | LC_ALL=C sort); }
# root owns the code the daemons run (the agent runs as root); nobody else may write it.
loose() { find "$1" ! -type l \( ! -uid 0 -o ! -gid 0 -o -perm /022 \) -print -quit; for b in "${bins[@]}"; do [ "$(stat -c %a "$1/$b")" = 755 ] || echo "$b"; done; }
normalize() { chown -R 0:0 "$1"; chmod -R u+rwX,go+rX,go-w "$1"; chmod 0755 "$1"; for b in "${bins[@]}"; do chmod 0755 "$1/$b"; done; }

if [ -d "$dest" ] && [ "$(present "$dest")" = "$files" ] && sums "$repo" | (cd "$dest" && sha256sum --quiet --check --status -); then
  if [ -z "$(loose "$dest")" ]; then
    report unchanged "$dest (dist, node_modules, cordon-pki, units)"
  else
    normalize "$dest"
    report updated "$dest (owners and modes)"
  fi
else
  mkdir -p "$(dirname "$dest")"
  stage=$(mktemp -d "$(dirname "$dest")/.cordon-stage.XXXXXX")
  # On any exit: drop the stage; put the previous tree back if the swap did not finish.
  trap '[ -e "$dest" ] || [ ! -e "$stage.old" ] || mv "$stage.old" "$dest"; rm -rf "$stage" "$stage.old"' EXIT
  tar -C "$repo" --no-recursion --owner=0 --group=0 -cf - --verbatim-files-from -T - <<<"$files" | tar -C "$stage" -xf -
  normalize "$stage"
  verb=installed
  if [ -e "$dest" ]; then verb=updated; mv "$dest" "$stage.old"; fi
  mv "$stage" "$dest"
  report "$verb" "$dest ($(wc -l <<<"$files") files: dist, production node_modules, cordon-pki, units)"
fi

# ---- commands
if [ "$role" = controller ]; then
  ensure_symlink "$R/usr/bin/cordon-controller" "$prefix/dist/controller/main.js"
  ensure_symlink "$R/usr/bin/cordonctl" "$prefix/dist/controller/cli/cordonctl.cjs"
  ensure_symlink "$R/usr/sbin/cordon-pki" "$prefix/deploy/pki/cordon-pki"
  units=(cordon-controller.service)
else
  ensure_symlink "$R/usr/bin/cordon-agent" "$prefix/dist/agent/main.js"
  units=(cordon-agent.service cordon-agent-restore.service)
fi

# ---- units
units_changed=$changes
for u in "${units[@]}"; do install_file "$repo/systemd/$u" "$R/etc/systemd/system/$u" 0644; done
units_changed=$((changes - units_changed))

# ---- the controller's user
owner_cfg=root:root
if [ "$role" = controller ]; then
  install_file "$repo/systemd/cordon.sysusers" "$R/etc/sysusers.d/cordon.conf" 0644
  if user_exists; then
    report unchanged "user cordon"
  elif [ -z "$R" ]; then
    if command -v systemd-sysusers >/dev/null; then systemd-sysusers /etc/sysusers.d/cordon.conf 2>&1
    else useradd --system --user-group --home-dir /var/lib/cordon --no-create-home --shell /usr/sbin/nologin cordon; fi
    report created "user cordon ($(id -u cordon))"
  elif [ -f "$R/etc/passwd" ] && command -v systemd-sysusers >/dev/null; then
    systemd-sysusers --root="$R" - <"$repo/systemd/cordon.sysusers" 2>&1
    report created "user cordon in $R/etc/passwd ($(to_uid cordon))"
  else
    report note "no $R/etc/passwd: user cordon not created; /etc/sysusers.d/cordon.conf creates it at first boot, then run: chgrp cordon /etc/cordon/pki /etc/cordon/controller.json && chmod 0750 /etc/cordon/pki && chown cordon:cordon /etc/cordon/pki/controller.key"
  fi
  if user_exists; then owner_cfg=root:cordon; fi
fi

# ---- /etc/cordon: configs and PKI
ensure_dir "$R/etc/cordon" 0755 root:root
pki=$R/etc/cordon/pki
if [ "$role" = controller ]; then
  install_config "$repo/deploy/controller.example.json" "$R/etc/cordon/controller.json" 0640 "$owner_cfg"
  if [ -f "$pki/ca.key" ]; then
    report unchanged "$pki/ca.crt (CA exists)"
  else
    "$repo/deploy/pki/cordon-pki" --dir "$pki" init >/dev/null
    report created "$pki/ca.crt, ca.key (new CA)"
  fi
  if [ -f "$pki/controller.crt" ]; then
    report unchanged "$pki/controller.crt"
  else
    if [ ${#names[@]} -eq 0 ]; then
      names=(localhost 127.0.0.1 ::1)
      if [ -z "$R" ]; then
        fq=$(hostname -f 2>/dev/null || hostname)
        if [[ $fq =~ ^[A-Za-z0-9.-]+$ ]] && [ "$fq" != localhost ]; then names+=("$fq"); fi
      fi
    fi
    "$repo/deploy/pki/cordon-pki" --dir "$pki" issue-controller "${names[@]}" >/dev/null
    report created "$pki/controller.crt, controller.key for ${names[*]}"
  fi
  if user_exists; then
    # The daemon (user cordon) reads the PKI folder and its own key; ca.key stays root's.
    ensure_owner_mode "$pki" 0750 root:cordon
    ensure_owner_mode "$pki/controller.key" 0600 cordon:cordon
  fi
else
  install_config "$repo/deploy/agent.example.json" "$R/etc/cordon/agent.json" 0600 root:root
  # Only created: on a host that is also the controller, the folder is root:cordon 0750.
  if [ -d "$pki" ]; then report unchanged "$pki/"; else ensure_dir "$pki" 0700 root:root; fi
fi

# ---- node for the units (#!/usr/bin/env node under systemd's default PATH)
if [ -z "$R" ]; then
  found=''
  for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do [ -x "$d/node" ] && { found=$d/node; break; }; done
  if [ -z "$found" ]; then
    echo "warning: no node in systemd's PATH (/usr/local/bin, /usr/bin, ...): the units will not start" >&2
  elif ! "$found" -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=12)?0:1)'; then
    echo "warning: $found is $("$found" --version); Cordon needs node >= 20.12" >&2
  fi
  if [ "$units_changed" -gt 0 ] && [ -d /run/systemd/system ]; then systemctl daemon-reload && report reloaded "systemd units"; fi
fi

if [ "$changes" -eq 0 ]; then
  echo "install.sh: nothing to do: everything was already in place"
else
  echo "install.sh: $changes change(s)"
  if [ "$role" = controller ]; then
    echo "next: edit /etc/cordon/controller.json (listen, mail, inventory), then: systemctl enable --now cordon-controller"
  else
    echo "next: copy ca.crt and this host's agent certificate and key (cordon-pki issue-agent HOST on the controller) to"
    echo "      /etc/cordon/pki/{ca.crt,agent.crt,agent.key} (root, 0600 for the key), edit /etc/cordon/agent.json,"
    echo "      then: systemctl enable --now cordon-agent   (also enables cordon-agent-restore at boot)"
  fi
fi
