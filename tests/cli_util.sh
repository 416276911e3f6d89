# Shared by the shell tests of the sscor tool: a scratch folder $T, ok/bad
# reporting (exit with $fail at the end), and expectations on exit codes and
# error messages of a command.
S="$SSCOR_BUILD/pipelines/sscor"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
expect_rc() { # want, description, command...
  local want=$1 what=$2; shift 2
  "$@" >"$T/out.txt" 2>"$T/err.txt"; local rc=$?
  if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, wanted $want; $(tail -5 "$T/err.txt")"; fi
}
expect_err() { grep -q -- "$1" "$T/err.txt" && ok "message names '$1'" || bad "message lacks '$1': $(cat "$T/err.txt")"; }
