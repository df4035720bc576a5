"""``fnirs-glm-simulate``: the command line of the simulator."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from bids_app import __version__
    from bids_app.cli import SuggestingParser
    from bids_app.simulate.dataset import simulate_dataset
    from bids_app.simulate.options import MOTION_SCOPES, SimulationOptions

    parser = SuggestingParser(prog="fnirs-glm-simulate", description="Simulated finger-tapping studies with known "
                              "responses: BIDS NIRS datasets of raw CW intensity.",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("out_dir", type=Path, help="where the BIDS dataset is written (absent or empty)")
    defaults = SimulationOptions()
    parser.add_argument("--subjects", type=int, default=defaults.subjects, help="participants")
    parser.add_argument("--sessions", type=int, default=defaults.sessions, help="sessions per participant")
    parser.add_argument("--runs", type=int, default=defaults.runs, help="runs per session")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="random seed (same seed, same data)")
    parser.add_argument("--duration", type=float, dest="duration_s", metavar="SECONDS",
                        help="recording length (default: each template participant's own, 40-50 min)")
    parser.add_argument("--null", action="store_true", help="no responses at all")
    parser.add_argument("--noise-free", dest="noise", action="store_false", help="the responses alone")
    parser.add_argument("--motion-spikes", type=int, default=defaults.motion_spikes,
                        help="motion spikes per recording")
    parser.add_argument("--motion-per-minute", type=float, default=defaults.motion_per_minute,
                        help="motion artefacts (spikes or baseline shifts) at random times, per minute")
    parser.add_argument("--task-locked-motion", type=float, default=defaults.task_locked_motion, metavar="SHARE",
                        help="share of Tapping trials followed by a motion artefact within 10 s")
    parser.add_argument("--baseline-shift-fraction", type=float, default=defaults.baseline_shift_fraction,
                        help="share of the motion artefacts that are baseline shifts rather than spikes")
    parser.add_argument("--motion-scope", choices=MOTION_SCOPES, default=defaults.motion_scope,
                        help="what each artefact of --motion-per-minute and --task-locked-motion moves: the whole "
                        "cap (every channel, each its own size and sign) or one optode (a source or detector at "
                        "random: only its channels, all the same way, by --optode-motion-sds x 0.5-1 times each "
                        "channel's SD)")
    parser.add_argument("--optode-motion-sds", type=float, nargs=2, default=defaults.optode_motion_sds,
                        metavar=("LOW", "HIGH"), help="with --motion-scope optode: each artefact's size in SDs of each "
                        "hit channel's optical density, drawn between LOW and HIGH per artefact, then x 0.5-1 per "
                        "channel")
    parser.add_argument("--bad-channels", type=int, default=defaults.bad_channels,
                        help="flat or noisy long pairs per recording")
    parser.add_argument("--lost-signal", type=float, default=defaults.lost_signal, metavar="SHARE",
                        help="share of source-detector pairs whose intensity collapses to 1%% (lost contact) for one "
                        "stretch of --bad-stretch seconds at a random time")
    parser.add_argument("--saturated", type=float, default=defaults.saturated, metavar="SHARE",
                        help="share of pairs whose intensity is clipped at a constant (saturated) for one stretch")
    parser.add_argument("--bad-stretch", type=float, dest="bad_stretch_s", default=defaults.bad_stretch_s,
                        metavar="SECONDS", help="length of the lost and saturated stretches")
    parser.add_argument("--groups", nargs=2, metavar=("FIRST", "SECOND"),
                        help="two groups (participants.tsv column group; participants alternate, sub-01 in the "
                             "first) and sourcedata/ground_truth/group_truth.tsv")
    parser.add_argument("--group-effect", type=float, default=defaults.group_effect, metavar="FRACTION",
                        help="the second group's response amplitudes as a fraction of the first's (with --groups)")
    parser.add_argument("--version", action="version", version=f"fnirs-glm-simulate {__version__}")
    args = parser.parse_args(argv)
    try:
        options = SimulationOptions(**{k: v for k, v in vars(args).items() if k not in ("out_dir", "groups")},
                                    groups=tuple(args.groups or ()))
        simulate_dataset(args.out_dir, options=options)
    except (FileExistsError, ValueError) as exc:
        print(f"fnirs-glm-simulate: error: {exc}", file=sys.stderr)
        return 2
    print(f"fnirs-glm-simulate: wrote {args.out_dir}")
    return 0
