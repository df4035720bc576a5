"""Are the outputs of two revisions of fnirs-glm identical? (The check that a restructure changed no result.)

Runs the app of this working tree and of a git revision (checked out into a temporary worktree) on the same
inputs - the demo (a simulated 5-participant study; participant level with a contrast, group level with a
q threshold) and the bundled recordings (tests/data/grptap) - and compares every output file byte for byte,
after removing the fields that record the version or the time (run logs' times, durations, command line and
paths; the version in sidecars and reports; matplotlib's SVG ids and dates).

    python benchmarks/output_identity.py [--baseline REV]      (default: HEAD; prints a line per file)

Exits 1 when any file differs or exists on one side only. Takes about 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# new in #15: each output root's model.json (listed in .bidsignore, named in GeneratedBy's Description)
MODEL_FILE = "model.json"
VOLATILE_KEYS = {"Version", "Started", "Seconds", "Command", "Versions", "SoftwareVersions", "fnirs-glm",
                 "bids_dir", "output_dir", "InputValidation", "Container"}


def run_app(repo: Path, *, demo_bids: Path, out: Path) -> None:
    """The participant and group levels of ``repo``'s app on the demo and on the bundled recordings."""
    def app(*args):
        subprocess.run([sys.executable, str(repo / "run.py"), *map(str, args), "--skip-bids-validator"],
                       check=True, cwd=repo, capture_output=True, text=True)

    app(demo_bids, out / "demo", "participant", "--n_cpus", "2", "--contrast", "Tapping/Left - Tapping/Right")
    app(demo_bids, out / "demo", "group", "--topomap-q-threshold", "0.05")
    app(REPO / "tests/data/grptap", out / "grptap", "participant", "--n_cpus", "2")
    app(REPO / "tests/data/grptap", out / "grptap", "group")


def normalised(path: Path) -> bytes:
    """The file's content without the fields that record the version or the time."""
    data = path.read_bytes()
    if path.name == ".bidsignore":
        return b"\n".join(line for line in data.split(b"\n") if line != MODEL_FILE.encode())
    if path.name == "dataset_description.json":
        description = json.loads(data)
        for generated_by in description.get("GeneratedBy", []):
            generated_by.pop("Description", None)
        return json.dumps(_without_volatile(description), sort_keys=True).encode()
    if path.suffix == ".json":
        return json.dumps(_without_volatile(json.loads(data)), sort_keys=True).encode()
    if path.suffix in (".svg", ".html"):
        text = data.decode()
        text = re.sub(r"<dc:date>.*?</dc:date>", "", text)
        text = re.sub(r'(id|href|clip-path)="[^"]*?"', r'\1=""', text)  # matplotlib's random SVG ids
        text = re.sub(r"url\(#[^)]*\)", "url()", text)
        text = re.sub(r"fnirs-glm \d+\.\d+\.\d+\S*", "fnirs-glm VERSION", text)
        text = re.sub(r"Matplotlib v[\d.]+", "Matplotlib", text)
        return text.encode()
    return data


def _without_volatile(value):
    if isinstance(value, dict):
        return {k: _without_volatile(v) for k, v in value.items() if k not in VOLATILE_KEYS}
    if isinstance(value, list):
        return [_without_volatile(v) for v in value]
    return value


def compare(before: Path, after: Path) -> list[str]:
    """One line per file that differs or exists on one side only."""
    def files(root):
        return {p.relative_to(root) for p in root.rglob("*") if p.is_file() and "logs" not in p.parts
                and p.relative_to(root).parts[1:] != (MODEL_FILE,)}

    old, new = files(before), files(after)
    problems = [f"only before: {p}" for p in sorted(old - new)] + [f"only after: {p}" for p in sorted(new - old)]
    problems += [f"differs: {p}" for p in sorted(old & new) if normalised(before / p) != normalised(after / p)]
    logs_before, logs_after = ([p for p in sorted((root / d / "logs").glob("*.json"))
                                if not p.name.startswith("model_")] for root in (before, after) for d in ("demo",))
    print(f"{len(old & new)} files compared ({len(logs_before)} and {len(logs_after)} demo run logs not compared: "
          "they record times and commands)")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", help="the git revision to compare with (default HEAD)")
    parser.add_argument("--keep", type=Path, help="keep the outputs in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = args.keep or Path(tmp)
        baseline = Path(tmp) / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(baseline), args.baseline], cwd=REPO, check=True)
        try:
            demo_bids = scratch / "demo-bids"
            subprocess.run([sys.executable, "-m", "bids_app.simulate", str(demo_bids), "--subjects", "5", "--seed", "1"],
                           check=True, cwd=REPO, capture_output=True)
            run_app(baseline, demo_bids=demo_bids, out=scratch / "before")
            run_app(REPO, demo_bids=demo_bids, out=scratch / "after")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=REPO, check=True)
        problems = compare(scratch / "before", scratch / "after")
    for line in problems:
        print(line)
    print("identical" if not problems else f"{len(problems)} file(s) differ from {args.baseline}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
