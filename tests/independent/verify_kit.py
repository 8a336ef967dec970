#!/usr/bin/env python3
"""Independent verifier for a vouch auditor kit (docs/auditors.md).

Written from the kit's documented layout and the public specifications (RFC 6962
Merkle trees, C2SP signed-note, tlog-checkpoint, tlog-cosignature); shares no code
with vouch. It reuses the Merkle and signed-note functions of verify_tlog.py, next
to it. Dependencies: Python 3.11 stdlib + `cryptography`.

verify.sh runs it twice:
  verify_kit.py present KIT
      the months that have a packet, one per line (for the openssl checks);
  verify_kit.py report KIT --openssl-results FILE [--log-key VKEY]
                [--witnesses FILE] [--min-cosignatures K]
      every other check, merged with the openssl results; one line per month,
      a line per population, sample and for the kit itself, then a summary line.
      Exit 0 only when everything verified.

Per month: the packet names the month and the kit's log key; its checkpoint file is
the one the packet commits to and is signed by the log key; the cosigned checkpoint
carries at least K valid cosignatures by the listed witnesses and extends the
packet's tree (the packet's own proof); the consistency proof leads from this
month's tree to the next month's (or to the latest checkpoint); the archives' files
have the hashes their collection record lists; every file of the month has the hash
manifest.json lists; and the openssl checks (packet and PDF signatures, RFC 3161
token, archive manifest signature) passed.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import subprocess
import sys

import importlib.util

sys.dont_write_bytecode = True  # leave the kit as it was given


def _load_sibling(name):
    """Load `name`.py from this script's own directory by explicit path, never through
    sys.path (a file added next to the verifier must not be imported instead)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_tlog = _load_sibling("verify_tlog")
Fail, b64d, leaf_hash, mth = _tlog.Fail, _tlog.b64d, _tlog.leaf_hash, _tlog.mth
parse_checkpoint, read_text = _tlog.parse_checkpoint, _tlog.read_text
verify_consistency, verify_note, cmd_inclusion = (
    _tlog.verify_consistency, _tlog.verify_note, _tlog.cmd_inclusion)

from cryptography.exceptions import InvalidSignature  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey  # noqa: E402


# ------------------------------------------------------------ cosignatures
def parse_cosigner(vkey):
    """'<name>+<hex keyid>+<base64(0x04||pub)>' -> (name, keyid, pubkey)."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise Fail(f"witness key {vkey!r} is not name+keyid+key")
    name, hexid, b64 = parts
    raw = b64d(b64, "witness key")
    if len(raw) != 33 or raw[0] != 0x04:
        raise Fail(f"witness key {name} is not an Ed25519 cosignature/v1 (0x04) key")
    kid = hashlib.sha256(name.encode() + b"\n\x04" + raw[1:]).digest()[:4]
    if kid.hex() != hexid.lower():
        raise Fail(f"witness key {name}: id {hexid} != computed {kid.hex()}")
    return name, kid, Ed25519PublicKey.from_public_bytes(raw[1:])


def read_witnesses(path):
    keys = []
    for line in read_text(path).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keys.append(parse_cosigner(line))
    return keys


def cosigners(note, body, witnesses):
    """Names of the listed witnesses with a valid cosignature/v1 line on `note`.
    A line by a listed witness that does not verify fails the whole note."""
    _, _, sigs = note.partition("\n\n")
    found = []
    for line in sigs.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            continue
        fields = line[2:].split(" ")
        if len(fields) != 2:
            continue
        for name, kid, pub in witnesses:
            if fields[0] != name:
                continue
            blob = b64d(fields[1], "cosignature")
            if len(blob) != 76 or blob[:4] != kid:
                continue
            t = int.from_bytes(blob[4:12], "big")
            msg = f"cosignature/v1\ntime {t}\n".encode() + body.encode()
            try:
                pub.verify(blob[12:], msg)
            except InvalidSignature:
                raise Fail(f"the cosignature by {name} does not verify")
            if name not in found:
                found.append(name)
    return found


# ------------------------------------------------------------------- helpers
def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_json(path, what):
    try:
        return json.loads(read_text(path))
    except FileNotFoundError:
        raise Fail(f"{what} is missing")
    except (ValueError, UnicodeDecodeError) as e:
        raise Fail(f"{what} is not JSON ({e})")


def instant(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def months_between(start, end):
    """Labels of the whole months in [start, end)."""
    out = []
    y, m = start.year, start.month
    while datetime.datetime(y, m, 1, tzinfo=datetime.timezone.utc) < end:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def month_end(label):
    y, m = int(label[:4]), int(label[5:7])
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return datetime.datetime(y, m, 1, tzinfo=datetime.timezone.utc)


class Kit:
    def __init__(self, root, log_key=None, witnesses=None, min_cosignatures=None):
        self.root = root
        self.meta = load_json(self.path("kit.json"), "kit.json")
        if self.meta.get("format") != "vouch-auditor-kit/v1":
            raise Fail(f"kit.json: unknown format {self.meta.get('format')!r}")
        # The auditor's values when given (`is not None`: an empty one is refused, never
        # replaced by the kit's), else the kit's own, which the caller reports as trusted.
        if log_key is not None:
            if not log_key.strip():
                raise Fail("--log-key is empty")
            self.log_key = log_key.strip()
        else:
            self.log_key = read_text(self.path("keys/log.vkey")).strip()
        if witnesses is not None:
            if not witnesses.strip():
                raise Fail("--witnesses is empty")
            self.witnesses = read_witnesses(witnesses)
            if not self.witnesses:
                raise Fail(f"--witnesses {witnesses}: no witness keys in the file")
        else:
            self.witnesses = read_witnesses(self.path(self.meta["witnesses"]["file"]))
        if min_cosignatures is not None:
            if min_cosignatures < 1:
                raise Fail("--min-cosignatures must be at least 1")
            self.k = min_cosignatures
        elif witnesses is not None:
            self.k = len(self.witnesses)
        else:
            self.k = int(self.meta["witnesses"]["min_cosignatures"])
            if self.witnesses and self.k < 1:
                raise Fail("kit.json: min_cosignatures is below 1 though witnesses are listed")
        if self.k > len(self.witnesses):
            raise Fail(f"{self.k} cosignatures required but only {len(self.witnesses)} witness keys listed")

    def path(self, rel):
        return os.path.join(self.root, rel)

    def months(self):
        return self.meta.get("months", [])


# ------------------------------------------------------------- the checks
def check_manifest(kit):
    """{scope: [problems]} for manifest.json against the files on disk; scope is a
    month label for files under months/M/, else 'kit'."""
    problems = {}

    def scope_of(rel):
        parts = rel.split("/")
        return parts[1] if len(parts) > 2 and parts[0] == "months" else "kit"

    def add(rel, msg):
        problems.setdefault(scope_of(rel), []).append(f"{rel}: {msg}")

    try:
        man = load_json(kit.path("manifest.json"), "manifest.json")
        listed = {f["path"]: f["sha256"] for f in man["files"]}
    except (Fail, KeyError, TypeError) as e:
        problems["kit"] = [f"manifest.json: {e}"]
        return problems, 0
    for rel, digest in sorted(listed.items()):
        p = kit.path(rel)
        if not os.path.isfile(p):
            add(rel, "listed in manifest.json but missing")
        elif sha256_file(p) != digest:
            add(rel, "SHA-256 differs from manifest.json (the file was changed)")
    for d, _, files in os.walk(kit.root):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), kit.root).replace(os.sep, "/")
            if rel in ("manifest.json", "manifest.json.sig") or rel in listed:
                continue
            add(rel, "not listed in manifest.json (added after the kit was made)")
    return problems, len(listed)


def checkpoint_of(note, key, what):
    try:
        return parse_checkpoint(verify_note(note, key))
    except Fail as e:
        raise Fail(f"{what}: {e}")


def check_month(kit, m, following):
    """Facts (list of str) for a present month, or raises Fail naming the file."""
    label = m["month"]
    base = f"months/{label}"
    facts = []
    packet = load_json(kit.path(f"{base}/packet/SOC2_Evidence.json"), f"{base}/packet/SOC2_Evidence.json")
    pj = f"{base}/packet/SOC2_Evidence.json"
    if packet.get("period", {}).get("label") != label:
        raise Fail(f"{pj}: the packet is for {packet.get('period', {}).get('label')!r}, not {label}")
    led = packet.get("ledger", {})
    if led.get("log_key", "").strip() != kit.log_key:
        raise Fail(f"{pj}: the packet names another log key ({led.get('log_key')!r})")
    if led.get("verification", {}).get("valid") is not True:
        raise Fail(f"{pj}: the packet records its ledger verification as failed")
    # The checkpoint the packet commits to.
    cp_file = f"{base}/checkpoint.txt"
    try:
        cp_text = read_text(kit.path(cp_file))
    except FileNotFoundError:
        raise Fail(f"{cp_file} is missing")
    origin, size, root = checkpoint_of(cp_text, kit.log_key, cp_file)
    pcp = led.get("checkpoint", {})
    if size != pcp.get("size") or base64.b64encode(root).decode() != pcp.get("root"):
        raise Fail(f"{cp_file}: tree {size} is not the one the packet records "
                   f"({pcp.get('size')}, root {pcp.get('root')}) — a different (forked) log")
    if cp_text != pcp.get("note"):
        raise Fail(f"{cp_file}: differs from the checkpoint note inside the packet")
    facts.append(f"checkpoint {size}")
    # Witness cosignatures, k of n, on a tree that extends the packet's.
    cs_file = f"{base}/cosigned-checkpoint.txt"
    wit = led.get("witnessed")
    if os.path.isfile(kit.path(cs_file)):
        note = read_text(kit.path(cs_file))
        body = verify_note(note, kit.log_key)
        _, wsize, wroot = parse_checkpoint(body)
        found = cosigners(note, body, kit.witnesses)
        if len(found) < kit.k:
            missing = [n for n, _, _ in kit.witnesses if n not in found]
            raise Fail(f"{cs_file}: {len(found)} of the required {kit.k} cosignatures"
                       f" on tree size {wsize}; missing: {', '.join(missing)}")
        if not wit or verify_note(wit.get("note", ""), kit.log_key) != body:
            raise Fail(f"{cs_file}: not the cosigned checkpoint the packet carries")
        proof = [b64d(h, "proof hash") for h in wit.get("consistency_proof", [])]
        if not verify_consistency(size, wsize, root, wroot, proof):
            raise Fail(f"{pj}: the cosigned tree {wsize} does not extend the packet's tree {size}")
        facts.append(f"{len(found)} of {len(kit.witnesses)} cosignatures (need {kit.k})")
    elif kit.k > 0:
        raise Fail(f"{cs_file} is missing: {kit.k} witness cosignatures are required")
    else:
        facts.append("no witnesses: checkpoints not independently cosigned")
    # The chain: this month's tree → the next month's (or the latest checkpoint).
    pf = f"{base}/consistency-to-next.json"
    d = load_json(kit.path(pf), pf)
    try:
        first, second = int(d["from"]), int(d["to"])
        path = [b64d(h, "proof hash") for h in d["proof"]]
        o1, s1, r1 = checkpoint_of(d["from_checkpoint"], kit.log_key, f"{pf} from_checkpoint")
        o2, s2, r2 = checkpoint_of(d["to_checkpoint"], kit.log_key, f"{pf} to_checkpoint")
    except (KeyError, TypeError, ValueError) as e:
        raise Fail(f"{pf}: malformed ({e})")
    if (s1, r1) != (size, root) or first != size:
        raise Fail(f"{pf}: starts at tree {s1}, not at this month's checkpoint {size} — a different (forked) log")
    if o1 != origin or o2 != origin:
        raise Fail(f"{pf}: another log origin")
    nxt = m.get("next")
    if nxt == "latest":
        try:
            _, ls, lr = checkpoint_of(read_text(kit.path(kit.meta["latest_checkpoint"])),
                                      kit.log_key, kit.meta["latest_checkpoint"])
        except FileNotFoundError:
            raise Fail(f"{kit.meta['latest_checkpoint']} is missing")
        want, target = (ls, lr), "the latest checkpoint"
    elif nxt in following:
        want, target = following[nxt], nxt
    else:
        raise Fail(f"kit.json: {label} chains to {nxt!r}, which has no packet in the kit")
    if (s2, r2) != want or second != s2:
        raise Fail(f"{pf}: ends at tree {s2}, not at {target}'s checkpoint {want[0]} — the months do not chain")
    if not verify_consistency(first, second, r1, r2, path):
        raise Fail(f"{pf}: the consistency proof {first} -> {second} does not verify — a forked log")
    facts.append(f"chain {first}->{second} ({target})")
    # Archives: the files as stored, with the hashes of their collection record.
    narch = 0
    for a in m.get("archives", []):
        adir = f"{base}/archive/{a}"
        rec = load_json(kit.path(f"{adir}/collection.json"), f"{adir}/collection.json")
        for f in rec.get("files", []):
            name = (f.get("key") or f.get("uri", "")).rsplit("/", 1)[-1]
            p = kit.path(f"{adir}/{name}")
            if not os.path.isfile(p):
                raise Fail(f"{adir}/{name} is missing (listed in {adir}/collection.json)")
            if sha256_file(p) != f.get("sha256"):
                raise Fail(f"{adir}/{name}: SHA-256 differs from {adir}/collection.json")
            narch += 1
    if narch:
        facts.append(f"archive {narch} files")
    return facts


def check_population(kit, p):
    d = p["dir"]
    rec = load_json(kit.path(f"{d}/population.json"), f"{d}/population.json")
    with open(kit.path(f"{d}/population.ndjson"), "rb") as f:
        data = f.read()
    leaves = data.split(b"\n")[:-1] if data else []
    if len(leaves) != rec.get("size"):
        raise Fail(f"{d}/population.ndjson: {len(leaves)} items, the record says {rec.get('size')}")
    if base64.b64encode(mth([leaf_hash(x) for x in leaves])).decode() != rec.get("root"):
        raise Fail(f"{d}/population.ndjson: the items do not add up to the recorded root")
    proof = kit.path(f"{d}/population-event.tlog-proof")
    if not os.path.isfile(proof):
        raise Fail(f"{d}/population-event.tlog-proof is missing")
    msg = cmd_inclusion(argparse.Namespace(proof=proof, key=kit.log_key, leaf=None))
    # The logged event must be this population's `population.taken`: id, size, root.
    ev = _proof_leaf_json(proof, f"{d}/population-event.tlog-proof")
    res = ev.get("resource") if isinstance(ev.get("resource"), dict) else {}
    det = next((v for v in ev.values() if isinstance(v, dict) and "root" in v and "size" in v), {})
    got = {"id": res.get("id"), "size": det.get("size"), "root": det.get("root")}
    if ev.get("action") != "population.taken":
        raise Fail(f"{d}/population-event.tlog-proof: the logged event is {ev.get('action')!r}, not population.taken")
    for field in ("id", "size", "root"):
        if got[field] != rec.get(field):
            raise Fail(f"{d}/population-event.tlog-proof: the logged event's {field} "
                       f"{got[field]!r} is not population.json's {rec.get(field)!r}")
    return f"{len(leaves)} items, root matches, event {msg[3:]}"


def _proof_leaf_json(path, what):
    """The logged entry a tlog-proof carries on its `extra` line, as JSON."""
    for line in read_text(path).split("\n\n", 1)[0].split("\n"):
        if line.startswith("extra "):
            try:
                v = json.loads(b64d(line[6:], "extra"))
            except ValueError as e:
                raise Fail(f"{what}: the logged entry is not JSON ({e})")
            if isinstance(v, dict):
                return v
    raise Fail(f"{what}: no logged entry (extra line)")


def check_sample(kit, s):
    here = os.path.dirname(os.path.abspath(__file__))
    r = subprocess.run(
        [sys.executable, "-I", "-B"]
        + (["-X", f"pycache_prefix={sys.pycache_prefix}"] if sys.pycache_prefix else [])
        + [os.path.join(here, "verify_sample.py"), "--key", kit.log_key,
         "--population", kit.path(f"{s['population_dir']}/population.ndjson"), kit.path(s["file"])],
        capture_output=True, text=True)
    out = (r.stdout + r.stderr).strip().splitlines()
    line = out[-1] if out else "no output"
    if r.returncode != 0 or not line.startswith("OK "):
        raise Fail(f"{s['file']}: {line}")
    return line.split(": ", 1)[-1]


def read_openssl(path):
    res = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 3)
            if len(parts) == 4:
                res.setdefault(parts[0], []).append(parts[1:])
    return res


def report(a):
    kit = Kit(a.kit, a.log_key, a.witnesses, a.min_cosignatures)
    # Say which trust anchors came from the kit itself: the auditor should have
    # compared them first (VERIFY.md, section 1).
    trusted = [k for k in a.trusted_from_kit.split(" ") if k]
    if a.log_key is None:
        trusted.append("keys/log.vkey")
    if a.witnesses is None:
        trusted.append(kit.meta["witnesses"]["file"])
    if a.min_cosignatures is None and a.witnesses is None:
        trusted.append(f"min_cosignatures {kit.k} (kit.json)")
    trusted = list(dict.fromkeys(trusted))
    if trusted:
        print(f"WARNING: trusting keys shipped in the kit: {', '.join(trusted)} — compare them first (VERIFY.md)")
    ssl = read_openssl(a.openssl_results)
    manifest_problems, nfiles = check_manifest(kit)
    meta = kit.meta
    period = meta["period"]
    made_at = instant(meta["made_at"])
    expected = months_between(instant(period["start"]), instant(period["end"]))
    months = kit.months()
    kit_problems = list(manifest_problems.get("kit", []))
    if [m.get("month") for m in months] != expected:
        kit_problems.append(f"kit.json: the months listed are not the months of {period['label']}")
    # The trees the packets record, so a month's proof is checked against the next
    # month's packet (not its possibly altered checkpoint file).
    following = {}
    for m in months:
        if m.get("status") != "present":
            continue
        try:
            pk = load_json(kit.path(f"months/{m['month']}/packet/SOC2_Evidence.json"), "")
            following[m["month"]] = (pk["ledger"]["checkpoint"]["size"],
                                     b64d(pk["ledger"]["checkpoint"]["root"], "root"))
        except (Fail, KeyError, TypeError):
            pass
    ts_required = bool(meta.get("timestamps", {}).get("required"))
    ok = failed = missing = not_yet = 0
    bad = []
    for m in months:
        label = m.get("month", "?")
        status = m.get("status")
        if status == "not_yet":
            if month_end(label) <= made_at:
                print(f"{label} FAIL: kit.json says not yet, but the month ended before the kit was made")
                failed += 1
                bad.append(label)
            else:
                print(f"{label} NOT YET: {m.get('reason', 'the month had not ended when the kit was made')}")
                not_yet += 1
            continue
        if status != "present":
            print(f"{label} MISSING: {m.get('reason', 'no packet in the kit')}")
            missing += 1
            bad.append(label)
            continue
        problems = []
        facts = []
        try:
            facts = check_month(kit, m, following)
        except Fail as e:
            problems.append(str(e))
        except Exception as e:  # noqa: BLE001 — a broken file is this month's FAIL
            problems.append(f"months/{label}: unreadable ({type(e).__name__}: {e})")
        results = ssl.get(label, [])
        checks = {c for c, _, _ in results}
        if "packet-sig" not in checks:
            problems.append(f"months/{label}/packet/SOC2_Evidence.json: signature not checked")
        for check, res, detail in results:
            if res == "fail":
                problems.append(detail)
        tsr = [r for c, r, _ in results if c == "tsr"]
        if tsr == ["ok"]:
            facts.insert(0, "tsr OK")
        elif tsr == ["unchecked"]:
            if ts_required:
                problems.append(f"months/{label}/packet/SOC2_Evidence.json.tsr: not checked, no TSA CA certificate (give --tsa-ca)")
            else:
                facts.insert(0, "tsr NOT CHECKED (no TSA CA)")
        elif not tsr:
            if ts_required or a.tsa_ca_given:
                problems.append(f"months/{label}/packet/SOC2_Evidence.json.tsr is missing (the kit was made with timestamps on)")
            else:
                facts.insert(0, "no tsr")
        if "pdf-sig" in checks:
            facts.insert(0, "pdf sig OK")
        facts.insert(0, "packet sig OK")
        problems.extend(manifest_problems.get(label, []))
        if problems:
            print(f"{label} FAIL: {'; '.join(problems)}")
            failed += 1
            bad.append(label)
        else:
            print(f"{label} OK ({', '.join(facts)})")
            ok += 1
    extra_fail = 0
    for p in meta.get("populations", []):
        try:
            print(f"population {p['id']} OK ({check_population(kit, p)})")
        except Exception as e:  # noqa: BLE001 — named, never a traceback
            print(f"population {p.get('id') if isinstance(p, dict) else p} FAIL: {e if isinstance(e, Fail) else f'{type(e).__name__}: {e}'}")
            extra_fail += 1
    for s in meta.get("samples", []):
        try:
            print(f"sample {s['id']} OK ({check_sample(kit, s)})")
        except Exception as e:  # noqa: BLE001 — named, never a traceback
            print(f"sample {s.get('id') if isinstance(s, dict) else s} FAIL: {e if isinstance(e, Fail) else f'{type(e).__name__}: {e}'}")
            extra_fail += 1
    for check, res, detail in ssl.get("kit", []):
        if res == "fail":
            kit_problems.append(detail)
    if "manifest-sig" not in {c for c, _, _ in ssl.get("kit", [])}:
        kit_problems.append("manifest.json.sig: not checked")
    if kit_problems:
        print(f"kit FAIL: {'; '.join(kit_problems)}")
        extra_fail += 1
    else:
        print(f"kit OK (manifest.json: {nfiles} files, signature verifies)")
    total = len(months)
    if failed or missing or extra_fail:
        parts = []
        if failed:
            parts.append(f"{failed} failed")
        if missing:
            parts.append(f"{missing} missing")
        what = ", ".join(parts) if parts else "every month verified"
        named = f" ({', '.join(bad)})" if bad else ""
        tail = "; the kit itself or its populations/samples failed" if extra_fail else ""
        print(f"SUMMARY: FAIL — {period['label']}: {ok} of {total} months OK, {what}{named}{tail}")
        return 1
    nyt = f", {not_yet} not yet ended when the kit was made" if not_yet else ""
    nowit = "; no witnesses: checkpoints not independently cosigned" if kit.k == 0 else ""
    print(f"SUMMARY: OK — {period['label']}: {ok} of {total} months verified{nyt}{nowit}")
    return 0


def present(a):
    # A broken kit.json lists nothing here; `report` then says what is wrong with it.
    try:
        meta = load_json(os.path.join(a.kit, "kit.json"), "kit.json")
    except Fail:
        return 1
    for m in meta.get("months", []):
        if m.get("status") == "present":
            print(m["month"])
    return 0


class Parser(argparse.ArgumentParser):
    def error(self, message):
        print(f"FAIL: {message}")
        sys.exit(2)


def main():
    ap = Parser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("present")
    p.add_argument("kit")
    p.set_defaults(fn=present)
    p = sub.add_parser("report")
    p.add_argument("kit")
    p.add_argument("--openssl-results", required=True)
    p.add_argument("--log-key")
    p.add_argument("--witnesses")
    p.add_argument("--min-cosignatures", type=int)
    p.add_argument("--trusted-from-kit", default="",
                   help="the keys verify.sh took from the kit (space-separated)")
    p.add_argument("--tsa-ca-given", action="store_true",
                   help="the auditor gave a TSA CA: every month needs a token")
    p.set_defaults(fn=report)
    a = ap.parse_args()
    try:
        sys.exit(a.fn(a))
    except Fail as e:
        print(f"SUMMARY: FAIL — {e}")
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 — one readable line, never a traceback
        print(f"SUMMARY: FAIL — {type(e).__name__}: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
