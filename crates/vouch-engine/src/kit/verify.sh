#!/usr/bin/env bash
# Verify this auditor kit with openssl and python3 only (no vouch needed).
# Usage: bash verify.sh [--log-key VKEY] [--witnesses FILE] [--min-cosignatures K] [--tsa-ca PEM]
# Prints one line per month (OK, FAIL, MISSING or NOT YET), then a summary line;
# exits 0 only when every month of the period verified. See VERIFY.md.
set -u

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$KIT/verifier/verify_kit.py"
TSA_CA=""
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tsa-ca) TSA_CA="${2:-}"; shift 2 || exit 2 ;;
    --log-key|--witnesses|--min-cosignatures) ARGS+=("$1" "${2:-}"); shift 2 || exit 2 ;;
    -h|--help) sed -n '2,5p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "verify.sh: unknown option $1 (see VERIFY.md)" >&2; exit 2 ;;
  esac
done
command -v openssl >/dev/null 2>&1 || { echo "verify.sh: openssl is required" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "verify.sh: python3 is required" >&2; exit 2; }
python3 -c 'import cryptography' 2>/dev/null || {
  echo "verify.sh: the Python package 'cryptography' is required (pip install cryptography)" >&2; exit 2; }
if [ -z "$TSA_CA" ] && [ -f "$KIT/keys/tsa-ca.pem" ]; then TSA_CA="$KIT/keys/tsa-ca.pem"; fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/openssl.tsv"
: > "$RESULTS"

# One result of an openssl check: scope (a month, or "kit"), check, ok|fail|unchecked, detail.
say() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }

# sigcheck SCOPE CHECK FILE: FILE.sig (base64 of a DER ECDSA P-256 / SHA-256 signature)
# must verify over FILE with one of the kit's signing public keys (keys/signing*.pem).
sigcheck() {
  local scope="$1" check="$2" file="$3" rel="${3#"$KIT"/}" sig key
  if [ ! -f "$file.sig" ]; then say "$scope" "$check" fail "$rel.sig is missing"; return; fi
  sig="$(<"$file.sig")"
  sig="${sig//[$'\n\r\t ']/}"
  if ! printf '%s' "$sig" | openssl base64 -d -A -out "$WORK/sig.bin" 2>/dev/null || [ ! -s "$WORK/sig.bin" ]; then
    say "$scope" "$check" fail "$rel.sig is not base64"; return
  fi
  for key in "$KIT"/keys/signing*.pem; do
    [ -f "$key" ] || continue
    if openssl dgst -sha256 -verify "$key" -signature "$WORK/sig.bin" "$file" >/dev/null 2>&1; then
      say "$scope" "$check" ok "${key#"$KIT"/}"; return
    fi
  done
  say "$scope" "$check" fail "$rel.sig does not verify over $rel with the kit's signing keys (openssl dgst -sha256 -verify)"
}

while IFS= read -r m; do
  [ -n "$m" ] || continue
  d="$KIT/months/$m/packet"
  sigcheck "$m" packet-sig "$d/SOC2_Evidence.json"
  if [ -f "$d/SOC2_Evidence.pdf" ] || [ -f "$d/SOC2_Evidence.pdf.sig" ]; then
    sigcheck "$m" pdf-sig "$d/SOC2_Evidence.pdf"
  fi
  if [ -f "$d/SOC2_Evidence.json.tsr" ]; then
    if [ -n "$TSA_CA" ]; then
      if out="$(openssl ts -verify -data "$d/SOC2_Evidence.json" -in "$d/SOC2_Evidence.json.tsr" -CAfile "$TSA_CA" 2>&1)"; then
        say "$m" tsr ok "openssl ts -verify"
      else
        say "$m" tsr fail "months/$m/packet/SOC2_Evidence.json.tsr: openssl ts -verify failed ($(printf '%s' "$out" | tr '\n\t' '  ' | cut -c1-160))"
      fi
    else
      say "$m" tsr unchecked "no TSA CA certificate (keys/tsa-ca.pem or --tsa-ca)"
    fi
  fi
  for manifest in "$KIT"/months/"$m"/archive/*/MANIFEST.json; do
    [ -f "$manifest" ] || continue
    sigcheck "$m" archive-manifest-sig "$manifest"
  done
done < <(python3 "$PY" present "$KIT")

sigcheck kit manifest-sig "$KIT/manifest.json"

python3 "$PY" report "$KIT" --openssl-results "$RESULTS" ${ARGS[@]+"${ARGS[@]}"}
