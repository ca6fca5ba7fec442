#!/bin/sh
# Loads the Ollama model files carried by an appliance bundle (models/: blobs/ and manifests/) into the
# compose `ollama-models` volume, which the ollama service mounts at /root/.ollama. Ollama itself has no
# route out of the machine, so this is how models reach it on an air-gapped install.
#
# Not run against a Docker engine yet (none where it was written); see docs/INSTALL.md.
set -u

usage() {
  cat <<'EOF'
load-ollama-models.sh: copy the bundle's Ollama models into the compose ollama-models volume

Usage: scripts/load-ollama-models.sh [--models DIR] [--no-verify]

  --models DIR   the models directory (default: models/ next to docker-compose.yml)
  --no-verify    do not run the bundle's verify.sh first (for a models directory outside a bundle)
  --help         this text

Run it from the appliance bundle (or the appliance folder), after `docker compose --profile ollama up -d`
or before it; it uses `docker compose run`, so the ollama service need not be running.
Exit codes: 0 loaded, 1 verification or the copy failed, 2 bad command line, 3 Docker or the files missing.
EOF
}

die() {
  code=$1
  shift
  printf 'load-ollama-models.sh: %s\n' "$*" >&2
  exit "$code"
}

root=$(cd "$(dirname "$0")/.." && pwd) || exit 3
models=$root/models
verify=1
while [ $# -gt 0 ]; do
  case $1 in
    --help | -h) usage; exit 0 ;;
    --no-verify) verify=0 ;;
    --models)
      [ $# -ge 2 ] || die 2 '--models needs a directory'
      models=$2
      shift
      ;;
    *) die 2 "unknown option $1 (see --help)" ;;
  esac
  shift
done

if [ ! -d "$models/blobs" ] || [ ! -d "$models/manifests" ]; then
  die 3 "$models is not an Ollama models directory (it needs blobs/ and manifests/); give --models DIR."
fi
models=$(cd "$models" && pwd) || exit 3
[ -f "$root/docker-compose.yml" ] || die 3 "$root has no docker-compose.yml; run this from the appliance bundle."

if [ $verify -eq 1 ]; then
  [ -x "$root/verify.sh" ] ||
    die 3 "$root/verify.sh is missing: not a bundle. Use --no-verify for a models directory you trust."
  "$root/verify.sh" || die 1 'the bundle failed verification; no model was loaded.'
fi

docker compose version >/dev/null 2>&1 ||
  die 3 "needs Docker with the compose plugin ('docker compose version' failed)."

cd "$root" || exit 3
echo "copying $(find "$models" -type f | wc -l | tr -d ' ') model files into the ollama-models volume"
docker compose --profile ollama run --rm --no-deps -T -v "$models:/import:ro" --entrypoint sh ollama \
  -c 'mkdir -p /root/.ollama/models && cp -R /import/. /root/.ollama/models/' ||
  die 1 'the copy into the volume failed (see the error above).'

echo 'loaded. Start or restart Ollama and list what it sees:'
echo '  docker compose --profile ollama up -d ollama && docker compose exec ollama ollama list'
