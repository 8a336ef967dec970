#!/usr/bin/env python3
"""Independent verifier for a vouch sample export (docs/sampling.md).

Re-derives the sample from its inputs and checks every proof offline, with the
log's verifier key only; shares no code with the Rust implementation (it reuses
the Merkle and signed-note functions of verify_tlog.py, next to it).
Dependencies: Python 3.11 stdlib + `cryptography`.

  verify_sample.py --key VKEY [--population ITEMS.ndjson] [--nonce-file NONCE]
                   SAMPLE.json

Exit 0 and "OK ..." when everything holds, exit 1 and "FAIL: reason" otherwise.
Checks, in order:
  1. the seed checkpoint's signature (the log key);
  2. the nonce commitment event and the population event are both in the tree of
     that checkpoint (inclusion proofs), the commitment first, and the checkpoint's
     size is exactly one more than the later of the two (the first checkpoint after
     both commitments); every ledger entry strictly between the two events is given
     with its inclusion proof in that checkpoint, and none of them is a
     population.taken of the same definition and period (the population used is the
     first one taken after the commitment);
  3. SHA-256(revealed nonce) is the committed hash (and, with --nonce-file, the
     revealed nonce is the auditor's own);
  4. seed = SHA-256(nonce || checkpoint root);
  5. the sample size follows from the recorded basis and the population's size;
  6. the indices follow from the seed (SHA-256(seed || be64(counter)), rejection
     sampling, without replacement);
  7. each sampled item is in the population root at its index (inclusion proof),
     and with --population, the whole population hashes to that root;
  8. when present, the sample.drawn event is in a signed checkpoint and records the
     same seed and indices.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import importlib.util  # noqa: E402

# verify_tlog.py is loaded from this script's directory by explicit path, not through
# sys.path: a file dropped next to the verifiers must not be imported instead.
_spec = importlib.util.spec_from_file_location(
    "verify_tlog", os.path.join(os.path.dirname(os.path.abspath(__file__)), "verify_tlog.py"))
_tlog = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tlog)
Fail, Parser, b64d, leaf_hash, mth = _tlog.Fail, _tlog.Parser, _tlog.b64d, _tlog.leaf_hash, _tlog.mth
parse_checkpoint, verify_inclusion, verify_note = (
    _tlog.parse_checkpoint, _tlog.verify_inclusion, _tlog.verify_note)

FREQUENCY_TABLE = {
    "annual": (1, 1), "quarterly": (2, 2), "monthly": (2, 5),
    "weekly": (5, 15), "daily": (20, 40), "multiple-daily": (25, 60),
}


def sha256(b):
    return hashlib.sha256(b).digest()


def parse_proof(text):
    """A C2SP tlog-proof -> (leaf bytes, index, path, checkpoint note)."""
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Fail("proof has no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Fail(f"bad proof header {lines[0]!r}")
    if len(lines) < 3 or not lines[1].startswith("extra ") or not lines[2].startswith("index "):
        raise Fail("proof lacks its extra (leaf) or index line")
    leaf = b64d(lines[1][6:], "extra")
    index = int(lines[2][6:])
    path = [b64d(h, "proof hash") for h in lines[3:]]
    return leaf, index, path, note


def event_in(proof_text, key, size, root, what):
    """Check an event's inclusion in the seed checkpoint; return (index, event)."""
    leaf, index, path, note = parse_proof(proof_text)
    _, psize, proot = parse_checkpoint(verify_note(note, key))
    if (psize, proot) != (size, root):
        raise Fail(f"{what} proof is not against the seed checkpoint")
    if not verify_inclusion(leaf_hash(leaf), index, size, path, root):
        raise Fail(f"{what} is not in the seed checkpoint's tree (inclusion proof fails)")
    return index, json.loads(leaf)


def sample_size(d, n):
    """docs/sampling.md §3."""
    if d.get("sample_size") is not None:
        k = d["sample_size"]
    elif d.get("frequency") in FREQUENCY_TABLE:
        lo, hi = FREQUENCY_TABLE[d["frequency"]]
        k = hi if d.get("risk") == "high" else lo
    elif n <= 5:
        k = n
    elif n <= 50:
        k = 5
    elif n <= 250:
        k = math.ceil(n / 10)
    else:
        k = 25
    return min(k, n)


def draw(seed, n, k):
    """docs/sampling.md §4."""
    if n == 0 or k == 0:
        return []
    if k >= n:
        return list(range(n))
    limit = 2 ** 64 - (2 ** 64 % n)
    out, counter = [], 0
    while len(out) < k:
        x = int.from_bytes(sha256(seed + counter.to_bytes(8, "big"))[:8], "big")
        counter += 1
        if x >= limit:
            continue
        i = x % n
        if i not in out:
            out.append(i)
    return out


def verify(a):
    with open(a.sample, "rb") as f:
        doc = json.loads(f.read().decode("utf-8"))
    if doc.get("format") != "vouch-sample@v1":
        raise Fail(f"not a vouch sample export (format {doc.get('format')!r})")
    s, pop, com = doc["sample"], doc["population"], doc["commitment"]
    # 1. the seed checkpoint
    origin, size, root = parse_checkpoint(verify_note(doc["checkpoint"], a.key))
    if size != s["checkpoint"]["size"] or b64d(s["checkpoint"]["root"], "root") != root:
        raise Fail("the sample's checkpoint differs from the signed one")
    # 2. both commitments precede it, and it is the first after both
    ci, cev = event_in(doc["commitment_event_proof"], a.key, size, root, "the nonce commitment event")
    pi, pev = event_in(doc["population_event_proof"], a.key, size, root, "the population event")
    if cev.get("action") != "sample.nonce_committed" or cev["resource"]["id"] != com["id"]:
        raise Fail("the commitment proof is not of this commitment's sample.nonce_committed event")
    if pev.get("action") != "population.taken" or pev["resource"]["id"] != pop["id"]:
        raise Fail("the population proof is not of this population's population.taken event")
    if (ci, pi) != (s["commitment_seq"], s["population_seq"]):
        raise Fail("the events are not at the sequence numbers the sample records")
    if pi <= ci:
        raise Fail("the population was taken before the nonce commitment")
    if size != max(ci, pi) + 1:
        raise Fail(f"checkpoint size {size} is not the first after both commitments ({max(ci, pi) + 1})")
    pm = pev["metadata"]
    n = pop["size"]
    if pm["root"] != pop["root"] or pm["size"] != n or pm["definition"] != pop["definition"]:
        raise Fail("the population event does not record this population's root, size and definition")
    if (s["population_root"], s["population_size"], s["population_id"]) != (pop["root"], n, pop["id"]):
        raise Fail("the sample names another population")
    cm = cev["metadata"]
    if cm["population"] != pop["definition"]["id"] or \
            (cm["period_start"], cm["period_end"]) != (pm["period_start"], pm["period_end"]):
        raise Fail("the commitment was made for another population or period")
    # The first population after the commitment: every entry in between, none of them
    # a population of the same definition and period.
    between = doc.get("between_event_proofs")
    if not isinstance(between, list) or len(between) != pi - ci - 1:
        raise Fail(f"the export must give the {pi - ci - 1} ledger entries between the "
                   "commitment and the population event, with their proofs")
    for j, proof in enumerate(between):
        want_i = ci + 1 + j
        bi, bev = event_in(proof, a.key, size, root, f"ledger entry {want_i}")
        if bi != want_i:
            raise Fail(f"entry {j} of the in-between events is at {bi}, not {want_i}")
        bm = bev.get("metadata") or {}
        if bev.get("action") == "population.taken" and \
                (bm.get("definition") or {}).get("id") == pop["definition"]["id"] and \
                (bm.get("period_start"), bm.get("period_end")) == (pm["period_start"], pm["period_end"]):
            raise Fail(f"population {bev['resource']['id']} of the same definition and period "
                       f"was taken at entry {bi}, before the one used ({pi}): the sample must "
                       "use the first population taken after the commitment")
    # 3. the nonce
    nonce = bytes.fromhex(s["nonce"])
    if hashlib.sha256(nonce).hexdigest() != cm["commitment"]:
        raise Fail("the revealed nonce does not hash to the committed value (wrong nonce)")
    if a.nonce_file:
        with open(a.nonce_file) as f:
            mine = f.read().strip().lower()
        if mine != s["nonce"]:
            raise Fail("the revealed nonce is not the one in --nonce-file")
    # 4. the seed
    seed = sha256(nonce + root)
    if seed.hex() != s["seed"]:
        raise Fail("the seed is not SHA-256(nonce || checkpoint root)")
    # 5-6. size and indices
    k = sample_size(pop["definition"], n)
    if s["basis"].get("size") != k:
        raise Fail(f"the sample size should be {k} by its basis, not {s['basis'].get('size')}")
    want = draw(seed, n, k)
    if s["indices"] != want:
        raise Fail(f"the indices are not those the seed gives: {s['indices']} != {want}")
    # 7. the items
    proot = b64d(pop["root"], "population root")
    if [it["index"] for it in doc["items"]] != want:
        raise Fail("the exported items are not the sampled indices")
    lines = None
    if a.population:
        with open(a.population, "rb") as f:
            data = f.read()
        lines = data.split(b"\n")[:-1] if data else []
        if len(lines) != n or mth([leaf_hash(x) for x in lines]) != proot:
            raise Fail("the population file does not hash to the population root")
    for it in doc["items"]:
        item = it["item"].encode("utf-8")
        path = [b64d(h, "item proof") for h in it["proof"]]
        if not verify_inclusion(leaf_hash(item), it["index"], n, path, proot):
            raise Fail(f"item {it['index']} is not in the population root (inclusion proof fails)")
        if lines is not None and lines[it["index"]] != item:
            raise Fail(f"item {it['index']} differs from the population file")
    # 8. the draw's own event
    if doc.get("drawn_event_proof"):
        leaf, index, path, note = parse_proof(doc["drawn_event_proof"])
        _, dsize, droot = parse_checkpoint(verify_note(note, a.key))
        if not verify_inclusion(leaf_hash(leaf), index, dsize, path, droot):
            raise Fail("the sample.drawn event is not in its checkpoint")
        ev = json.loads(leaf)
        if ev.get("action") != "sample.drawn" or ev["metadata"]["seed"] != s["seed"] \
                or ev["metadata"]["indices"] != s["indices"]:
            raise Fail("the sample.drawn event records another seed or other indices")
    return (f"OK sample {s['id']}: {len(want)} of {n} items, seed {s['seed'][:16]}…, "
            f"checkpoint {size} origin={origin}")


def main():
    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--key", required=True, help="the log's verifier key (name+id+key)")
    ap.add_argument("--population", help="the population's NDJSON export")
    ap.add_argument("--nonce-file", help="the auditor's own nonce (hex)")
    ap.add_argument("sample", help="the sample export (JSON)")
    a = ap.parse_args()
    try:
        print(verify(a))
    except (Fail, OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
        print(f"FAIL: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
