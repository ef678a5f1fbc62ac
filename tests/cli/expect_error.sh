#!/bin/bash
# Runs accel-train on a bad config and checks that it fails the way the
# config's first line says: exit status 1, exactly one line on stderr,
#   accel-train: error: <config>:<expected text>
# where the first line of the config is "; expect: <expected text>" (a
# grep -E pattern), and that nothing was written (no run directory).
# usage: expect_error.sh PROGRAM CONFIG
set -u
prog=$1 cfg=$2
expect=$(sed -n '1s/^; expect: //p' "$cfg")
[ -n "$expect" ] || { echo "FAIL: $cfg has no '; expect:' first line"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$prog" "$cfg" >out.txt 2>err.txt
rc=$?
fail() { echo "FAIL: $cfg: $*"; echo "--- stderr:"; cat err.txt; exit 1; }
[ $rc -eq 1 ] || fail "exit status $rc, expected 1"
[ "$(wc -l <err.txt)" -eq 1 ] || fail "stderr is not exactly one line"
prefix="accel-train: error: $cfg:"
msg=$(cat err.txt)
[ "${msg:0:${#prefix}}" = "$prefix" ] || fail "stderr does not start with '$prefix'"
rest="${msg:${#prefix}}"
echo "${rest# }" | grep -Eq -- "^$expect" || fail "message does not match '$expect'"
[ ! -e runs ] || fail "a run directory was created"
echo "ok: $msg"
