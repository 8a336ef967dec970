#!/usr/bin/env python3
"""Validate a `vouch export oscal` directory with compliance-trestle (OSCAL 1.1 models).

Usage: trestle_validate.py DIR

1. Loads assessment-results.json and every component-definitions/*.json with trestle's
   pydantic models (`oscal_read`), which check every field against the OSCAL schema.
2. Imports them into a fresh trestle workspace (`trestle init`, `trestle import`) and runs
   `trestle validate -a` (trestle's validators: models, duplicate uuids, references).
3. Checks what the links promise: every related observation exists, and every
   relevant-evidence href names a file of the export whose SHA-256 is the `sha256` prop.

Prints one line per problem and exits 1 on any; prints `ok: …` and exits 0 otherwise.
"""
import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile

from trestle.oscal.assessment_results import AssessmentResults
from trestle.oscal.component import ComponentDefinition


def trestle(args, cwd):
    """Run the trestle CLI (the entry point of the same interpreter's package)."""
    cmd = [sys.executable, "-c", "import sys; from trestle.cli import run; sys.exit(run())"] + args
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def main():
    out = pathlib.Path(sys.argv[1]).resolve()
    problems = []
    ar_path = out / "assessment-results.json"
    cds = sorted((out / "component-definitions").glob("*.json"))
    docs = [(ar_path, AssessmentResults)] + [(p, ComponentDefinition) for p in cds]
    for path, model in docs:
        try:
            model.oscal_read(path)
        except Exception as e:  # pydantic's ValidationError and file errors alike
            problems.append(f"{path.name}: not a valid OSCAL {model.__name__}: {' '.join(str(e).split())}")
    if not problems:
        with tempfile.TemporaryDirectory() as ws:
            r = trestle(["init"], ws)
            if r.returncode != 0:
                problems.append(f"trestle init failed: {r.stdout} {r.stderr}")
            for i, (path, _) in enumerate(docs):
                r = trestle(["import", "-f", str(path), "-o", f"doc{i}"], ws)
                if r.returncode != 0:
                    problems.append(f"{path.name}: trestle import failed: {' '.join((r.stdout + r.stderr).split())}")
            if not problems:
                r = trestle(["validate", "-a"], ws)
                if r.returncode != 0:
                    problems.append(f"trestle validate -a failed: {' '.join((r.stdout + r.stderr).split())}")
    # The links: observations referenced exist; evidence files exist with their hashes.
    try:
        ar = json.loads(ar_path.read_text())["assessment-results"]
    except Exception as e:
        problems.append(f"{ar_path.name}: {e}")
        ar = {"results": []}
    for result in ar.get("results", []):
        obs = {o["uuid"] for o in result.get("observations", [])}
        for f in result.get("findings", []):
            for r in f.get("related-observations", []):
                if r["observation-uuid"] not in obs:
                    problems.append(f"finding {f['uuid']}: related observation {r['observation-uuid']} is not in the result")
        for o in result.get("observations", []):
            for ev in o.get("relevant-evidence", []):
                href = ev.get("href", "")
                sha = next((p["value"] for p in ev.get("props", []) if p["name"] == "sha256"), None)
                target = out / href
                if not href or not target.is_file():
                    problems.append(f"observation {o['uuid']}: relevant evidence {href!r} is not in the export")
                elif sha is None:
                    problems.append(f"observation {o['uuid']}: relevant evidence {href} has no sha256")
                elif hashlib.sha256(target.read_bytes()).hexdigest() != sha:
                    problems.append(f"observation {o['uuid']}: {href} does not match its sha256 {sha}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"ok: {len(docs)} OSCAL document(s) valid (trestle models, trestle validate -a), evidence links and hashes checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
