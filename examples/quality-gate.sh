#!/usr/bin/env bash
# The quality-gate walkthrough of docs/quality-gates.md, end to end, in a scratch directory ($1,
# default a new temporary one): an evaluation job signs its metrics with `scanner attest`, the
# gate promotes v1 to staging and prod, v2 passes staging and prod refuses its regression.
# Needs `scanner` on PATH, python3 (numpy + safetensors, as for the demo) and openssl.
set -u
here=$(cd "$(dirname "$0")" && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work" && cd "$work" || exit 2
echo "# working in $work"

# two versions of the demo model: v2 has other weights (so another digest)
for v in v1 v2; do
  mkdir -p "$v" && cp -r "$here/model" "$v/sentiment" && python3 "$here/make_model.py" "$v/sentiment" || exit 2
done
echo "retrained" >> v2/sentiment/vocab.txt

# keys: the evaluation job signs metrics, the gate signs its verification summaries (VSA)
for k in eval gate; do
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$k.key" 2>/dev/null || exit 2
  openssl pkey -in "$k.key" -pubout -out "$k.pub" || exit 2
done

# policy data: the shipped data.json with quality settings for staging and prod
python3 - "$(python3 -c 'import scanner.resources as r; print(r.policies_dir())')/data.json" <<'EOF' || exit 2
import json, sys
data = json.load(open(sys.argv[1]))
stages = data["scanner"]["config"]["stages"]
stages["staging"]["quality"] = {"min": {"accuracy": 0.8}, "signed_only": True}
stages["staging"]["evidence_required"] = ["https://in-toto.io/attestation/test-result/v0.1"]
stages["prod"]["quality"] = {"min": {"accuracy": 0.8}, "no_regression": ["accuracy"], "signed_only": True}
stages["prod"]["previous_stage_required"] = True
# the demo model is not signed by a CI identity, and the bundled vulnerability snapshot is old
# (run `scanner db update` in real use): judge evidence and quality only
for stage in stages.values():
    for rule in ("signature-required", "provenance-required", "sbom-incomplete", "vuln-db-stale"):
        stage["rules"][rule] = "off"
json.dump(data, open("quality.json", "w"), indent=2)
EOF

evaluate() { # $1 = version, $2 = accuracy: what an evaluation job and a test job publish
  cat > "$1.eval.cdx.json" <<EOF
{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
 "components": [{"type": "machine-learning-model", "name": "example-sentiment-tiny",
   "modelCard": {"quantitativeAnalysis": {"performanceMetrics": [
     {"type": "accuracy", "value": "$2", "slice": "stanfordnlp/sst2 split=validation",
      "confidenceInterval": {"lowerBound": "$(python3 -c "print(round($2 - 0.01, 4))")", "upperBound": "$(python3 -c "print(round($2 + 0.01, 4))")"}}]}}}]}
EOF
  echo '{"result": "PASSED", "configuration": [{"name": "pytest", "uri": "tests/"}], "passedTests": ["test_smoke", "test_bias"], "failedTests": [], "warnedTests": []}' > "$1.tests.json"
  echo "\$ scanner attest $1/sentiment --predicate-type cyclonedx --predicate $1.eval.cdx.json --sign-key eval.key -o $1.eval.dsse.json"
  scanner attest "$1/sentiment" --predicate-type cyclonedx --predicate "$1.eval.cdx.json" --sign-key eval.key -o "$1.eval.dsse.json" || exit 2
  echo "\$ scanner attest $1/sentiment --predicate-type test-result --predicate $1.tests.json --sign-key eval.key -o $1.tests.dsse.json"
  scanner attest "$1/sentiment" --predicate-type test-result --predicate "$1.tests.json" --sign-key eval.key -o "$1.tests.dsse.json" || exit 2
}

gate() { # $1 = version, $2 = stage, more attestations after
  local v=$1 stage=$2
  shift 2
  echo "\$ scanner gate $v/sentiment --stage $stage --data quality.json --ledger ledger.db --attestation-key eval.pub --attestation-key gate.pub --attestation $v.eval.dsse.json --attestation $v.tests.dsse.json $* --sign-key gate.key --attestation-output $v.$stage.vsa.json"
  scanner gate "$v/sentiment" --stage "$stage" --data quality.json --ledger ledger.db \
    --attestation-key eval.pub --attestation-key gate.pub \
    --attestation "$v.eval.dsse.json" --attestation "$v.tests.dsse.json" "$@" \
    --sign-key gate.key --attestation-output "$v.$stage.vsa.json" -f table -f markdown="$v.$stage.md" -f html="$v.$stage.html"
  echo "-> exit $?"
  echo
}

echo "## v1: evaluated at accuracy 0.83"
evaluate v1 0.83
gate v1 staging
gate v1 prod --attestation v1.staging.vsa.json

echo "## v2: evaluated at accuracy 0.81 (its model card still claims 0.81, unsigned)"
evaluate v2 0.81
gate v2 prod
gate v2 staging
gate v2 prod --attestation v2.staging.vsa.json
