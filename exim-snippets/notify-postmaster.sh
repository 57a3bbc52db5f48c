#!/bin/sh
# notify-postmaster.sh - mail the postmaster when senderwatch locks an account.
#
# The plugin runs the policy's `notify` command once per lock it stores (a
# lock made by hand with `senderwatch lock` is not announced: the admin
# knows), detached (stdin, stdout and stderr on /dev/null, its own session),
# never as root: as the policy's notify_user, by default the Exim user
# (Debian-exim), with umask 022, killed after notify_timeout (30s). Its exit
# status is written to Exim's main log. Install it and name it in
# /etc/exim4/senderwatch.toml:
#
#   install -m 0755 /usr/share/senderwatch/exim-snippets/notify-postmaster.sh \
#           /etc/exim4/senderwatch/notify-postmaster.sh
#   # senderwatch.toml (top level, before any [section]):
#   notify = "/etc/exim4/senderwatch/notify-postmaster.sh"
#
# Test it by hand:
#   SENDERWATCH_ACCOUNT=test SENDERWATCH_RULE=manual \
#     /etc/exim4/senderwatch/notify-postmaster.sh
#
# What the plugin passes in the environment:
#   SENDERWATCH_ACCOUNT  the locked account ($authenticated_id, normalised)
#   SENDERWATCH_RULE     the rule that fired
#   SENDERWATCH_METRIC   its metric (bounces, bounce_ratio, client_ips, ...)
#   SENDERWATCH_VALUE    the metric's value when it fired
#   SENDERWATCH_LIMIT    the rule's limit
#   SENDERWATCH_WINDOW   the rule's window ("1h")
#   SENDERWATCH_REASON   the evidence in words
#   SENDERWATCH_SINCE    when the lock began (ISO 8601, UTC)
#   SENDERWATCH_BY       "senderwatch" for automatic locks, else the admin
#
# Settings (environment variables of this script, or edit the defaults):
#   NOTIFY_TO        recipient               (default: postmaster)
#   NOTIFY_SENDMAIL  sendmail program        (default: /usr/sbin/sendmail)
#   NOTIFY_DETAILS   1: include `senderwatch show` output (default: 1)
#
# The message is submitted locally, not over SMTP AUTH, so senderwatch never
# counts it against an account. Values from the environment are never run or
# expanded; line breaks are removed from everything that goes into a header.
set -u

NOTIFY_TO=${NOTIFY_TO:-postmaster}
NOTIFY_SENDMAIL=${NOTIFY_SENDMAIL:-/usr/sbin/sendmail}
NOTIFY_DETAILS=${NOTIFY_DETAILS:-1}
SENDERWATCH_CLI=${SENDERWATCH_CLI:-/usr/bin/senderwatch}

account=${SENDERWATCH_ACCOUNT:-}
rule=${SENDERWATCH_RULE:-}
metric=${SENDERWATCH_METRIC:-}
value=${SENDERWATCH_VALUE:-}
limit=${SENDERWATCH_LIMIT:-}
window=${SENDERWATCH_WINDOW:-}
reason=${SENDERWATCH_REASON:-}
since=${SENDERWATCH_SINCE:-}
by=${SENDERWATCH_BY:-senderwatch}

if [ -z "$account" ]; then
    echo "notify-postmaster.sh: SENDERWATCH_ACCOUNT is not set" >&2
    exit 64
fi

# One line, no control characters, at most 200 characters: safe in a header.
header_safe() {
    printf '%s' "$1" | tr -d '\000-\037\177' | cut -c1-200
}

# The account quoted for a shell command the postmaster may paste.
shell_quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

host=$(hostname -f 2>/dev/null || hostname)
subject="senderwatch locked $(header_safe "$account") ($(header_safe "$rule")) on $(header_safe "$host")"
quoted=$(shell_quote "$account")

{
    printf 'To: %s\n' "$(header_safe "$NOTIFY_TO")"
    printf 'Subject: %s\n' "$subject"
    printf 'Auto-Submitted: auto-generated\n'
    printf 'X-Senderwatch-Account: %s\n' "$(header_safe "$account")"
    printf 'Content-Type: text/plain; charset=utf-8\n'
    printf '\n'
    printf 'senderwatch on %s locked the account %s.\n\n' "$host" "$account"
    if [ "$rule" = "manual" ]; then
        printf '  locked by hand by %s\n' "$by"
    else
        printf '  rule    %s\n' "$rule"
        printf '  metric  %s = %s (limit %s over %s)\n' "$metric" "$value" "$limit" "$window"
    fi
    printf '  reason  %s\n' "$reason"
    printf '  since   %s\n\n' "$since"
    printf 'Its mail is refused or frozen until a person releases it. What to do:\n\n'
    printf '  senderwatch show %s\n' "$quoted"
    printf '      why it was locked, its numbers and client networks\n'
    printf '  change the password of the account (it has most likely leaked)\n'
    printf '  senderwatch queue %s\n' "$quoted"
    printf '      the mail it left in the queue: --remove the spam, --thaw good mail\n'
    printf '  senderwatch unlock %s --reason "password changed"\n\n' "$quoted"
    if [ "$NOTIFY_DETAILS" = 1 ] && [ -x "$SENDERWATCH_CLI" ]; then
        printf -- '--- senderwatch show %s ---\n' "$quoted"
        # A read-only look at the store; bounded so a stuck store cannot
        # keep this script around.
        timeout 20 "$SENDERWATCH_CLI" --no-color show -- "$account" 2>&1 | head -n 100
    fi
} | "$NOTIFY_SENDMAIL" -t -oi
