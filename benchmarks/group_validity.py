"""Calibration of the group methods: false positives, interval coverage and power with known truth.

    python benchmarks/group_validity.py [--studies 500] [--pipeline-studies 8] [--seed 0]

1. Participant tables simulated directly. A study has 16 cells like a group table's: 8 quiet (between-
   participant SD tau = 0.02 uM, first-level se around 0.03 uM, like Control or HbR cells) and 8 active
   (tau = 0.25 uM, se around 0.08 uM); in half of each the population effect is 0 (null cells), in the
   other half it is ``--effect`` uM. Each participant's first-level se is the cell's se times a factor
   drawn once per participant from U(1, 3) (participants' noise differs over a factor of 3), and is itself
   estimated (chi-square on 200 degrees of freedom); its effect is the population effect + u (N(0, tau^2))
   + e (N(0, se^2)). Every method fits the same studies: ``random-effects`` and ``ols`` per cell,
   ``mixedlm`` one model per study with a fixed effect per cell (as the ROI table). Printed per method and
   number of participants n: the share of p < 0.05 in null cells (``--studies`` x 8 tests), the coverage
   of the population effect by the 95% intervals (all cells), and the power (share of p < 0.05) in the
   quiet and in the active cells with an effect.
2. The whole pipeline: ``--pipeline-studies`` simulated null studies (bids_app.simulate, no responses,
   5 participants of 300 s) through ``fnirs-glm participant`` and ``fnirs-glm group`` with each method;
   printed: the share of p < 0.05 and the coverage of 0 over every group row (ROI, channel, contrast).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.validity import markdown
from bids_app.options import declarations

METHODS = declarations()["group_method"].choices
QUIET, ACTIVE = (0.02, 0.03), (0.25, 0.08)  # (tau, typical first-level se), uM
CELLS = [(kind, effect, k) for kind in ("quiet", "active") for effect in (False, True) for k in range(4)]


def simulate_tables(*, studies: int, n: int, effect: float, rng) -> pd.DataFrame:
    """Long participant tables of every study: study, cell, subject, effect, se, truth, kind, null."""
    rows = []
    for study in range(studies):
        factor = rng.uniform(1, 3, n)
        for cell, (kind, has_effect, _) in enumerate(CELLS):
            tau, se0 = QUIET if kind == "quiet" else ACTIVE
            truth = effect if has_effect else 0.0
            se = se0 * factor
            estimate = truth + rng.normal(0, tau, n) + rng.normal(0, se)
            rows.append(pd.DataFrame({"study": study, "cell": cell, "subject": [f"{i:03d}" for i in range(n)],
                                      "effect": estimate, "se": se * np.sqrt(rng.chisquare(200, n) / 200),
                                      "truth": truth, "kind": kind, "null": not has_effect}))
    return pd.concat(rows, ignore_index=True)


def fit(tables: pd.DataFrame, method: str) -> pd.DataFrame:
    """One row per study and cell: p, ci_low, ci_high (and the cell's truth, kind, null)."""
    from bids_app.group_level.mixedlm import fit_mixedlm
    from bids_app.group_level.models import add_inference, fit_cell_models

    if method == "mixedlm":
        parts = []
        for study, data in tables.groupby("study"):
            rows, _ = fit_mixedlm(data.assign(cell=data["cell"].astype(str)), cells=["cell"])
            parts.append(rows.assign(study=study, cell=rows["cell"].astype(int)))
        rows = pd.concat(parts, ignore_index=True)
    else:
        rows, _ = fit_cell_models(tables, cells=["study", "cell"], method=method)
    rows = add_inference(rows, fdr_within=["term"])
    truth = tables.drop_duplicates(["study", "cell"])[["study", "cell", "truth", "kind", "null"]]
    return rows.merge(truth, on=["study", "cell"], validate="one_to_one")


def calibration(*, studies: int, sizes: list[int], effect: float, seed: int) -> pd.DataFrame:
    records = []
    for n in sizes:
        tables = simulate_tables(studies=studies, n=n, effect=effect, rng=np.random.default_rng([seed, n]))
        for method in METHODS:
            rows = fit(tables, method)
            null = rows[rows["null"]]
            covered = (rows["ci_low"] <= rows["truth"]) & (rows["truth"] <= rows["ci_high"])
            power = rows[~rows["null"]].groupby("kind")["p"].apply(lambda p: (p < 0.05).mean())
            records.append({"method": method, "n": n, "null tests": len(null),
                            "null p < 0.05": (null["p"] < 0.05).mean(), "95% CI coverage": covered.mean(),
                            f"power, quiet cells ({effect:g} uM)": power["quiet"],
                            f"power, active cells ({effect:g} uM)": power["active"]})
    return pd.DataFrame(records)


def pipeline(*, studies: int, seed: int) -> pd.DataFrame:
    from bids_app.cli import main
    from bids_app.simulate import SimulationOptions, simulate_dataset

    logging.getLogger("fnirs_glm").setLevel(logging.ERROR)
    found = {method: [] for method in METHODS}
    with tempfile.TemporaryDirectory() as tmp:
        for study in range(studies):
            root = Path(tmp) / f"study-{study}"
            bids = simulate_dataset(root / "bids", options=SimulationOptions(subjects=5, duration_s=300, null=True,
                                                                            seed=seed + study))
            out = root / "out"
            assert main([str(bids), str(out), "participant", "--skip_bids_validator", "--n_cpus", "2",
                         "--contrast", "Tapping/Left - Tapping/Right"]) == 0
            for method in METHODS:
                assert main([str(bids), str(out), "group", "--skip_bids_validator", "--group-method", method]) == 0
                found[method] += [pd.read_csv(p, sep="\t") for p in out.glob("task-*_stats.tsv")]
    records = []
    for method, tables in found.items():
        rows = pd.concat(tables, ignore_index=True).dropna(subset=["p"])
        records.append({"method": method, "studies": studies, "group rows (null)": len(rows),
                        "p < 0.05": (rows["p"] < 0.05).mean(),
                        "95% CI coverage of 0": ((rows["ci_low"] <= 0) & (0 <= rows["ci_high"])).mean()})
    return pd.DataFrame(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=int, default=500, help="simulated studies per n (8 null tests each)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--effect", type=float, default=0.15, help="population effect of the non-null cells, uM")
    parser.add_argument("--pipeline-studies", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    table = calibration(studies=args.studies, sizes=args.sizes, effect=args.effect, seed=args.seed)
    print("## Simulated participant tables\n")
    print(markdown(table.sort_values(["method", "n"], key=lambda c: c.map(METHODS.index) if c.name == "method"
                                     else c).set_index("method")), flush=True)
    if args.pipeline_studies:
        print("\n## Whole pipeline: simulated null studies (5 participants, 300 s)\n")
        print(markdown(pipeline(studies=args.pipeline_studies, seed=args.seed).set_index("method")))
    print(f"\n_{time.perf_counter() - started:.0f} s; command: python benchmarks/group_validity.py "
          + " ".join(sys.argv[1:]) + "_")


if __name__ == "__main__":
    main()
