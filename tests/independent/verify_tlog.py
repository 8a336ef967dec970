#!/usr/bin/env python3
"""Independent verifier for vouch transparency-log artifacts.

Written from the specifications only (RFC 6962 / RFC 9162 Merkle trees,
C2SP signed-note, tlog-checkpoint and tlog-proof); shares no code with the
Rust implementation.  Dependencies: Python 3.11 stdlib + `cryptography`.

Subcommands (exit 0 + "OK ..." on success, exit 1 + "FAIL: reason" otherwise):
  inclusion   --key VKEY [--leaf FILE] PROOF_FILE
  consistency --key VKEY PROOF_JSON
  root        --key VKEY --checkpoint CHECKPOINT_FILE EXPORT_NDJSON
  vectors
"""
import argparse
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class Fail(Exception):
    """Verification failure; message is printed as 'FAIL: <msg>'."""


def b64d(s, what):
    try:
        return base64.b64decode(s, validate=True)
    except Exception:
        raise Fail(f"bad base64 in {what}: {s!r}")


# ---------------------------------------------------------------- Merkle tree
def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(leaf):
    return sha256(b"\x00" + leaf)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split_point(n):
    """Largest power of two strictly less than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(hashes):
    """RFC 6962 MTH over a list of *leaf hashes*."""
    n = len(hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return hashes[0]
    k = split_point(n)
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def gen_path(m, hashes):
    """RFC 6962 §2.1.1 PATH(m, D[n]) (reference generator, for self-test)."""
    n = len(hashes)
    if n <= 1:
        return []
    k = split_point(n)
    if m < k:
        return gen_path(m, hashes[:k]) + [mth(hashes[k:])]
    return gen_path(m - k, hashes[k:]) + [mth(hashes[:k])]


def gen_proof(m, hashes, b=True):
    """RFC 6962 §2.1.2 SUBPROOF(m, D[n], b) (reference generator)."""
    n = len(hashes)
    if m == n:
        return [] if b else [mth(hashes)]
    k = split_point(n)
    if m <= k:
        return gen_proof(m, hashes[:k], b) + [mth(hashes[k:])]
    return gen_proof(m - k, hashes[k:], False) + [mth(hashes[:k])]


def verify_inclusion(lh, index, size, path, root):
    """RFC 9162 §2.1.3.2. Returns True iff the inclusion proof is valid."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, lh
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, path):
    """RFC 9162 §2.1.4.2 (plus the trivial cases first == second, first == 0)."""
    if first > second:
        return False
    if first == second:
        return not path and first_hash == second_hash
    if first == 0:
        return not path  # empty tree is a prefix of every tree
    if not path:
        return False
    if first & (first - 1) == 0:  # exact power of two
        path = [first_hash] + list(path)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


# ------------------------------------------------------- signed notes / keys
def key_id(name, pub):
    return sha256(name.encode() + b"\n" + b"\x01" + pub)[:4]


def parse_vkey(vkey):
    """'<name>+<hex keyid>+<base64(0x01||pub)>' -> (name, keyid, pubkey)."""
    parts = vkey.strip().split("+", 2)  # base64 may contain '+': split from the left
    if len(parts) != 3:
        raise Fail("verifier key must be name+keyid+key")
    name, hexid, b64 = parts
    raw = b64d(b64, "verifier key")
    if len(raw) != 33 or raw[0] != 0x01:
        raise Fail("verifier key is not an Ed25519 (0x01) key")
    pub = raw[1:]
    kid = key_id(name, pub)
    if kid.hex() != hexid.lower():
        raise Fail(f"verifier key id {hexid} != computed {kid.hex()}")
    return name, kid, Ed25519PublicKey.from_public_bytes(pub)


def verify_note(text, vkey):
    """Verify a C2SP signed note with the given key; return the body text."""
    name, kid, pub = parse_vkey(vkey)
    body, sep, sigs = text.partition("\n\n")
    if not sep:
        raise Fail("signed note has no blank line before signatures")
    body += "\n"  # signed message includes the body's final newline
    if not sigs.endswith("\n"):
        raise Fail("signature block does not end with a newline")
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise Fail(f"malformed signature line: {line!r}")
        fields = line[2:].split(" ")
        if len(fields) != 2:
            raise Fail(f"malformed signature line: {line!r}")
        if fields[0] != name:
            continue  # signature by some other key: ignore
        blob = b64d(fields[1], "signature")
        if len(blob) != 68 or blob[:4] != kid:
            continue
        try:
            pub.verify(blob[4:], body.encode())
            return body
        except InvalidSignature:
            raise Fail(f"bad signature by {name}")
    raise Fail(f"no signature by key {name}+{kid.hex()}")


def parse_checkpoint(body):
    """C2SP tlog-checkpoint body -> (origin, size, root)."""
    lines = body.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise Fail("checkpoint body too short")
    if not lines[1].isdigit() or (len(lines[1]) > 1 and lines[1][0] == "0"):
        raise Fail(f"bad checkpoint size {lines[1]!r}")
    root = b64d(lines[2], "checkpoint root")
    if len(root) != 32:
        raise Fail("checkpoint root is not 32 bytes")
    return lines[0], int(lines[1]), root


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")


# ----------------------------------------------------------------- commands
def cmd_inclusion(a):
    text = read_text(a.proof)
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise Fail("proof file has no empty line before the checkpoint")
    lines = head.split("\n")
    if lines[0] != "c2sp.org/tlog-proof@v1":
        raise Fail(f"bad proof header {lines[0]!r}")
    i, leaf = 1, None
    if i < len(lines) and lines[i].startswith("extra "):
        leaf = b64d(lines[i][6:], "extra")
        i += 1
    if i >= len(lines) or not lines[i].startswith("index ") or not lines[i][6:].isdigit():
        raise Fail("missing or bad index line")
    index = int(lines[i][6:])
    path = [b64d(h, "proof hash") for h in lines[i + 1:]]
    if any(len(h) != 32 for h in path):
        raise Fail("proof hash is not 32 bytes")
    if a.leaf:
        with open(a.leaf, "rb") as f:
            leaf = f.read()
    if leaf is None:
        raise Fail("no leaf: proof has no 'extra' line and --leaf not given")
    origin, size, root = parse_checkpoint(verify_note(note, a.key))
    if not verify_inclusion(leaf_hash(leaf), index, size, path, root):
        raise Fail(f"inclusion proof for index {index} in size {size} does not verify")
    return f"OK inclusion index={index} size={size} origin={origin}"


def cmd_consistency(a):
    try:
        d = json.loads(read_text(a.proof))
        first, second = int(d["from"]), int(d["to"])
        from_root = b64d(d["from_root"], "from_root")
        to_root = b64d(d["to_root"], "to_root")
        path = [b64d(h, "proof hash") for h in d["proof"]]
        notes = d["from_checkpoint"], d["to_checkpoint"]
    except (ValueError, KeyError, TypeError) as e:
        raise Fail(f"bad consistency JSON: {e}")
    o1, s1, r1 = parse_checkpoint(verify_note(notes[0], a.key))
    o2, s2, r2 = parse_checkpoint(verify_note(notes[1], a.key))
    if o1 != o2:
        raise Fail(f"checkpoint origins differ: {o1!r} vs {o2!r}")
    if (s1, r1) != (first, from_root):
        raise Fail("from_checkpoint does not match from/from_root")
    if (s2, r2) != (second, to_root):
        raise Fail("to_checkpoint does not match to/to_root")
    if not verify_consistency(first, second, from_root, to_root, path):
        raise Fail(f"consistency proof {first} -> {second} does not verify")
    return f"OK consistency {first}->{second} origin={o1}"


def cmd_root(a):
    origin, size, root = parse_checkpoint(verify_note(read_text(a.checkpoint), a.key))
    with open(a.export, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        raise Fail("export does not end with a newline")
    leaves = data.split(b"\n")[:-1] if data else []
    if len(leaves) != size:
        raise Fail(f"export has {len(leaves)} lines but checkpoint size is {size}")
    if mth([leaf_hash(l) for l in leaves]) != root:
        raise Fail("recomputed Merkle root does not match checkpoint root")
    return f"OK root size={size} origin={origin}"


VEC_LEAVES = ["", "00", "10", "2021", "3031", "40414243",
              "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
VEC_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
VEC_PATH_0_8 = [
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
]


def cmd_vectors(a):
    lh = [leaf_hash(bytes.fromhex(x)) for x in VEC_LEAVES]
    flip = lambda h: bytes([h[0] ^ 1]) + h[1:]  # corrupt a hash
    if mth([]).hex() != hashlib.sha256(b"").hexdigest():
        raise Fail("empty tree root")
    checks = 0
    for n in range(1, 9):
        root = mth(lh[:n])
        if root.hex() != VEC_ROOTS[n - 1]:
            raise Fail(f"root of size {n}")
        for m in range(n):
            p = gen_path(m, lh[:n])
            if not verify_inclusion(lh[m], m, n, p, root):
                raise Fail(f"inclusion {m} in {n}")
            # negative checks: wrong leaf, wrong index, corrupted path
            if verify_inclusion(flip(lh[m]), m, n, p, root) or \
               (n > 1 and verify_inclusion(lh[m], (m + 1) % n, n, p, root)) or \
               (p and verify_inclusion(lh[m], m, n, [flip(p[0])] + p[1:], root)):
                raise Fail(f"tampered inclusion {m} in {n} accepted")
            checks += 1
        for m in range(1, n + 1):
            p = gen_proof(m, lh[:n])
            old = mth(lh[:m])
            if not verify_consistency(m, n, old, root, p):
                raise Fail(f"consistency {m} -> {n}")
            if verify_consistency(m, n, flip(old), root, p) or \
               (p and verify_consistency(m, n, old, root, p[:-1] + [flip(p[-1])])):
                raise Fail(f"tampered consistency {m} -> {n} accepted")
            checks += 1
    if [h.hex() for h in gen_path(0, lh)] != VEC_PATH_0_8:
        raise Fail("PATH(0, D[8]) differs from reference vector")
    return f"OK vectors ({checks} proofs + 8 roots)"


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are reported as FAIL with exit status 1."""

    def error(self, message):
        print(f"FAIL: {message}")
        sys.exit(1)


def main():
    ap = Parser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("inclusion", help="verify a c2sp tlog-proof file")
    p.add_argument("--key", required=True)
    p.add_argument("--leaf", help="file with the leaf bytes (overrides 'extra')")
    p.add_argument("proof")
    p.set_defaults(fn=cmd_inclusion)
    p = sub.add_parser("consistency", help="verify a consistency proof JSON")
    p.add_argument("--key", required=True)
    p.add_argument("proof")
    p.set_defaults(fn=cmd_consistency)
    p = sub.add_parser("root", help="recompute the root of an NDJSON export")
    p.add_argument("--key", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("export")
    p.set_defaults(fn=cmd_root)
    p = sub.add_parser("vectors", help="self-test against RFC 6962 vectors")
    p.set_defaults(fn=cmd_vectors)
    a = ap.parse_args()
    try:
        print(a.fn(a))
    except (Fail, OSError, UnicodeDecodeError) as e:
        print(f"FAIL: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
