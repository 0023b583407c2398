#!/bin/sh
# FastNetMon 1.2 notify script for Cordon: posts each notice to the
# controller's alerts listener (POST /alerts/fastnetmon) as JSON, with the
# source's bearer token. Install as FastNetMon's notify_script_path.
#
# FastNetMon runs it as: SCRIPT IP DIRECTION PPS ACTION
#   DIRECTION: incoming (IP is the victim) | outgoing (IP sends the attack) | internal | other
#   ACTION:    ban (attack details on stdin) | unban (nothing on stdin) | attack_details (details on stdin)
# Cordon files a complaint only for "outgoing" + "ban"; it answers 202 to the rest and files nothing.
#
# Settings: environment, else the file CORDON_NOTIFY_CONF (default
# /etc/cordon/alerts/fastnetmon-notify.conf), shell assignments:
#   CORDON_ALERTS_URL=https://10.255.0.1:9479/alerts/fastnetmon
#   CORDON_ALERTS_TOKEN_FILE=/etc/cordon/alerts/fastnetmon.token   (the token alerts.sources names for this source)
#   CORDON_ALERTS_CACERT=/etc/cordon/ca.pem                       (Cordon's CA, for alerts.tls; empty: system CAs)
# The token never appears on a command line: curl reads it from its config on stdin.
set -u
conf=${CORDON_NOTIFY_CONF:-/etc/cordon/alerts/fastnetmon-notify.conf}
# shellcheck disable=SC1090
[ -r "$conf" ] && . "$conf"
url=${CORDON_ALERTS_URL:?CORDON_ALERTS_URL is not set}
token_file=${CORDON_ALERTS_TOKEN_FILE:?CORDON_ALERTS_TOKEN_FILE is not set}
cacert=${CORDON_ALERTS_CACERT:-}

ip=${1:-}; direction=${2:-}; pps=${3:-}; action=${4:-}
# Only plain tokens go into the JSON unescaped; anything else is refused here.
case "$ip" in *[!0-9A-Fa-f.:]*|'') echo "fastnetmon-notify: bad IP argument" >&2; exit 2;; esac
case "$direction" in *[!a-z_]*|'') echo "fastnetmon-notify: bad direction argument" >&2; exit 2;; esac
case "$pps" in *[!0-9]*|'') pps=0;; esac
case "$action" in *[!a-z_]*|'') echo "fastnetmon-notify: bad action argument" >&2; exit 2;; esac

body=$(mktemp) || exit 1
trap 'rm -f "$body"' EXIT
details=''
# FastNetMon writes the details on stdin for ban and attack_details and waits for them to be read.
if [ "$action" = ban ] || [ "$action" = attack_details ]; then
  details=$(base64 -w0)
fi
printf '{"ip":"%s","direction":"%s","pps":%s,"action":"%s","detailsBase64":"%s"}\n' "$ip" "$direction" "$pps" "$action" "$details" >"$body"

token=$(tr -d ' \t\r\n' <"$token_file") || exit 1
set -- --silent --show-error --fail-with-body --max-time 15 --retry 3 --retry-connrefused \
  -H 'Content-Type: application/json' --data-binary "@$body" --config -
[ -n "$cacert" ] && set -- --cacert "$cacert" "$@"
printf 'header = "Authorization: Bearer %s"\n' "$token" | curl "$@" "$url" >/dev/null
status=$?
[ $status -eq 0 ] || echo "fastnetmon-notify: posting $action of $ip ($direction) to $url failed (curl $status)" >&2
exit $status
