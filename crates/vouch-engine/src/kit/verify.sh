#!/usr/bin/env bash
# Verify this auditor kit with openssl and python3 only (no vouch needed).
# Usage: bash verify.sh [--signing-key PEM]... [--log-key VKEY] [--witnesses FILE]
#                       [--min-cosignatures K] [--tsa-ca PEM]
# Prints one line per month (OK, FAIL, MISSING or NOT YET), then a summary line;
# exits 0 only when every month of the period verified. See VERIFY.md.
set -u

KIT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="$KIT/verifier/verify_kit.py"
TSA_CA=""
SIGNING_KEYS=()
ARGS=()
TRUSTED_FROM_KIT=()
need() { # need OPTION VALUE: a flag's value must be given and not empty
  if [ -z "${2:-}" ]; then echo "verify.sh: $1 needs a non-empty value" >&2; exit 2; fi
}
while [ $# -gt 0 ]; do
  case "$1" in
    --tsa-ca) need "$1" "${2:-}"; TSA_CA="$2"; ARGS+=("--tsa-ca-given"); shift 2 ;;
    --signing-key) need "$1" "${2:-}"; SIGNING_KEYS+=("$2"); shift 2 ;;
    --log-key|--witnesses|--min-cosignatures) need "$1" "${2:-}"; ARGS+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,6p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "verify.sh: unknown option $1 (see VERIFY.md)" >&2; exit 2 ;;
  esac
done
for f in "${SIGNING_KEYS[@]+"${SIGNING_KEYS[@]}"}" "$TSA_CA"; do
  if [ -n "$f" ] && [ ! -f "$f" ]; then echo "verify.sh: $f: no such file" >&2; exit 2; fi
done
command -v openssl >/dev/null 2>&1 || { echo "verify.sh: openssl is required" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "verify.sh: python3 is required" >&2; exit 2; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RESULTS="$WORK/openssl.tsv"
: > "$RESULTS"
# Python runs isolated (-I: no PYTHON* variables, neither the script's directory nor
# the current one on sys.path) and never reads or writes the kit's __pycache__.
PYRUN=(python3 -I -B -X "pycache_prefix=$WORK/pycache")
"${PYRUN[@]}" -c 'import cryptography' 2>/dev/null || {
  echo "verify.sh: the Python package 'cryptography' is required (pip install cryptography)" >&2; exit 2; }

# b64sig FILE.sig: decode to $WORK/sig.bin; false when not base64.
b64sig() {
  local sig
  sig="$(<"$1")"
  sig="${sig//[$'\n\r\t ']/}"
  printf '%s' "$sig" | openssl base64 -d -A -out "$WORK/sig.bin" 2>/dev/null && [ -s "$WORK/sig.bin" ]
}

# The current signing key: the auditor's first --signing-key, else the kit's.
if [ ${#SIGNING_KEYS[@]} -gt 0 ]; then
  CURRENT="${SIGNING_KEYS[0]}"
else
  CURRENT="$KIT/keys/signing.pub.pem"
  TRUSTED_FROM_KIT+=("keys/signing.pub.pem")
fi

# Before any Python runs: manifest.json is signed by the current key, and verifier/
# holds exactly the three scripts, with the SHA-256 manifest.json lists. Otherwise a
# file added to the kit (verifier/base64.py, a __pycache__, …) could run as the verifier.
fatal() { echo "kit FAIL: $1"; echo "SUMMARY: FAIL — $1"; exit 1; }
[ -f "$KIT/manifest.json" ] || fatal "manifest.json is missing"
[ -f "$KIT/manifest.json.sig" ] || fatal "manifest.json.sig is missing"
b64sig "$KIT/manifest.json.sig" || fatal "manifest.json.sig is not base64"
openssl dgst -sha256 -verify "$CURRENT" -signature "$WORK/sig.bin" "$KIT/manifest.json" >/dev/null 2>&1 ||
  fatal "manifest.json.sig does not verify over manifest.json with the current signing key ${CURRENT#"$KIT"/} (openssl dgst -sha256 -verify)"
# listed REL: the SHA-256 manifest.json lists for REL (serde_json's pretty layout).
listed() {
  grep -A2 -F "\"path\": \"$1\"," "$KIT/manifest.json" | sed -n 's/.*"sha256": "\([0-9a-f]\{64\}\)".*/\1/p' | head -n1
}
sha() { openssl dgst -sha256 -r "$1" | cut -c1-64; }
extra="$(cd "$KIT/verifier" 2>/dev/null && find . -mindepth 1 ! -name verify_kit.py ! -name verify_tlog.py ! -name verify_sample.py -print 2>/dev/null | sed 's|^\./|verifier/|' | head -n3 | tr '\n' ' ')"
[ -z "$extra" ] || fatal "verifier/ holds files that are not the kit's verifiers: ${extra% } (not run)"
for f in verify_kit.py verify_tlog.py verify_sample.py kit.json; do
  case "$f" in kit.json) rel="$f" ;; *) rel="verifier/$f" ;; esac
  want="$(listed "$rel")"
  [ -f "$KIT/$rel" ] && [ ! -L "$KIT/$rel" ] || fatal "$rel is missing (not run)"
  [ -n "$want" ] && [ "$(sha "$KIT/$rel")" = "$want" ] ||
    fatal "$rel: SHA-256 differs from the signed manifest.json (not run)"
done

# The packet-signing keys: the auditor's, else those kit.json (now known to be as
# signed) lists.
if [ ${#SIGNING_KEYS[@]} -eq 0 ]; then
  while IFS= read -r rel; do
    [ -f "$KIT/$rel" ] && SIGNING_KEYS+=("$KIT/$rel") && TRUSTED_FROM_KIT+=("$rel")
  done < <(sed -n '/"signing_keys": \[/,/\]/p' "$KIT/kit.json" | grep -o '"keys/signing[A-Za-z0-9._-]*\.pem"' | tr -d '"' | sort -u)
fi
if [ -z "$TSA_CA" ] && [ -f "$KIT/keys/tsa-ca.pem" ]; then
  TSA_CA="$KIT/keys/tsa-ca.pem"; TRUSTED_FROM_KIT+=("keys/tsa-ca.pem")
fi

# One result of an openssl check: scope (a month, or "kit"), check, ok|fail|unchecked, detail.
say() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$RESULTS"; }

# sigcheck SCOPE CHECK FILE: FILE.sig (base64 of a DER ECDSA P-256 / SHA-256 signature)
# must verify over FILE with one of the packet-signing keys.
sigcheck() {
  local scope="$1" check="$2" file="$3" rel="${3#"$KIT"/}" key
  if [ ! -f "$file.sig" ]; then say "$scope" "$check" fail "$rel.sig is missing"; return; fi
  if ! b64sig "$file.sig"; then say "$scope" "$check" fail "$rel.sig is not base64"; return; fi
  for key in ${SIGNING_KEYS[@]+"${SIGNING_KEYS[@]}"}; do
    if openssl dgst -sha256 -verify "$key" -signature "$WORK/sig.bin" "$file" >/dev/null 2>&1; then
      say "$scope" "$check" ok "${key#"$KIT"/}"; return
    fi
  done
  say "$scope" "$check" fail "$rel.sig does not verify over $rel with the packet-signing keys (openssl dgst -sha256 -verify)"
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
done < <("${PYRUN[@]}" "$PY" present "$KIT")

say kit manifest-sig ok "${CURRENT#"$KIT"/}"

TRUSTED="${TRUSTED_FROM_KIT[*]+"${TRUSTED_FROM_KIT[*]}"}"
"${PYRUN[@]}" "$PY" report "$KIT" --openssl-results "$RESULTS" \
  --trusted-from-kit "$TRUSTED" ${ARGS[@]+"${ARGS[@]}"}
