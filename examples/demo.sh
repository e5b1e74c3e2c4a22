#!/usr/bin/env bash
# The demo: real gates over the bundled examples, every report format written to $1 (default out/).
# Exits 0 when every gate reached a decision (allowed or denied), non-zero when one could not.
set -u
out=${1:-out}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
python "$here/make_model.py" "$here/model" || exit 2

formats() { # $1 = report basename
  local args=() f
  for f in $(scanner version --format json | python -c 'import json,sys; print(" ".join(json.load(sys.stdin)["report_formats"]))'); do
    case $f in
      table) ;;
      markdown) args+=(--format "$f=$out/$1.md") ;;
      junit) args+=(--format "$f=$out/$1.junit.xml") ;;
      cyclonedx-json) args+=(--format "$f=$out/$1.cdx.json") ;;
      *) args+=(--format "$f=$out/$1.$f") ;;
    esac
  done
  echo "${args[@]}"
}

status=0
run_gate() { # $1 = label, $2 = path, $3 = stage
  echo "== scanner gate $2 --stage $3"
  # the demo names its ledger: by default it is the user state directory's (never one in the
  # working directory or the judged tree, which would supply their own ledger and baseline)
  scanner gate "$2" --stage "$3" --ledger .scanner/ledger.db --format table $(formats "$1")
  local rc=$?
  case $rc in
    0) echo "-> $1: promotion to $3 ALLOWED" ;;
    1) echo "-> $1: promotion to $3 DENIED" ;;
    *) echo "-> $1: the gate could not complete (exit $rc)"; status=$rc ;;
  esac
  echo
}

run_gate model-dev "$here/model" dev
run_gate app-prod "$here/app/requirements.txt" prod
echo "== promotion in an OCI registry"
bash "$here/registry_demo.sh" "$out" "$here/model" || status=$?
echo
echo "reports in $out/:"; ls "$out"
exit $status
