#!/usr/bin/env bash
# The registry part of the demo: a local OCI registry (Debian's docker-registry), the example model
# pushed and promoted dev -> staging by digest with a signed verification summary attached, a
# malicious model pushed and refused, the stage board, and the registry stopped again.
# Usage: registry_demo.sh OUT_DIR MODEL_DIR. Exit 0 when every step behaved as expected.
set -u
out=$1
model=$2
if ! command -v docker-registry >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== installing docker-registry (apt-get, as .ci/run does)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null 2>&1; }
fi
if ! command -v docker-registry >/dev/null 2>&1; then
  echo "registry part skipped: docker-registry is not installed (sudo apt-get install -y docker-registry, then make demo)"
  exit 0
fi

work=$(mktemp -d)
port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/config.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/storage}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port, secret: demo}
YAML
docker-registry serve "$work/config.yml" >"$work/registry.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
python - "$port" <<'PY' || { echo "the registry did not start:"; tail -5 "$work/registry.log"; exit 2; }
import sys, time, urllib.request
for _ in range(200):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/v2/", timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
reg="127.0.0.1:$port"
echo "== local OCI registry on $reg (docker-registry, pid $pid)"

# The key that signs the verification summaries (in CI: a KMS key, or Sigstore keyless).
python - "$out/promotion-key.pem" <<'PY'
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
key = ec.generate_private_key(ec.SECP256R1())
open(sys.argv[1], "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
PY
export SCANNER_LEDGER="$out/registry-ledger.db"
status=0
step() { # $1 = expected exit code, rest = command
  local want=$1; shift
  echo "\$ $*"
  "$@"
  local rc=$?
  if [ "$rc" != "$want" ]; then echo "-> unexpected exit $rc (expected $want)"; status=2; fi
  echo
}

step 0 scanner push "$model" "oci://$reg/demo/sentiment:dev" --plain-http
step 0 scanner promote "oci://$reg/demo/sentiment:dev" "oci://$reg/demo/sentiment:staging" --stage staging \
  --plain-http --sign-key "$out/promotion-key.pem" --format "json=$out/promotion-staging.json"

# A model whose pickle calls os.system (harmless 'true'), pushed like any other and refused.
mkdir -p "$work/evil"
python - "$work/evil" <<'PY'
import os, pickle, sys
class Payload:
    def __reduce__(self):
        return (os.system, ("true",))
open(os.path.join(sys.argv[1], "model.pkl"), "wb").write(pickle.dumps(Payload(), protocol=4))
open(os.path.join(sys.argv[1], "config.json"), "w").write('{"model_type": "bert"}')
PY
step 0 scanner push "$work/evil" "oci://$reg/demo/evil:dev" --plain-http
step 1 scanner promote "oci://$reg/demo/evil:dev" "oci://$reg/demo/evil:staging" --stage staging \
  --plain-http --sign-key "$out/promotion-key.pem" --format table --format "json=$out/promotion-denied.json"

step 0 scanner status "oci://$reg/demo/sentiment" --plain-http
step 0 scanner status "oci://$reg/demo/evil" --plain-http
echo "== stopping the registry"
exit $status
