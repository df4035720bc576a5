"""Simulated finger-tapping studies with known responses: BIDS NIRS datasets of raw CW intensity.

The default design is the BIDS-NIRS-Tapping dataset of the MNE-NIRS group GLM tutorial: its montage
(8 sources, 16 detectors, 8 short channels, 56 channels at 760/850 nm, template CapTrak head positions),
its sampling rate (7.8125 Hz) and each participant's recording length and event timing (Control,
Tapping/Left, Tapping/Right, 5 s). Participants beyond the five of the template reuse their timing.

Per long channel, HbO = sum over conditions of amplitude x regressor, where the regressor is the
condition's boxcar convolved with the glover HRF (nilearn, at the recording's rate): the amplitude is
therefore exactly the GLM effect (uM) that fnirs-glm estimates. Tapping/Left activates the right
hemisphere and Tapping/Right the left one (ipsilateral responses are weaker), Control nothing; HbR is
a negative fraction of HbO. Amplitudes vary between participants and channels. On top: a systemic
signal (cardiac, respiratory, Mayer waves, slow fluctuations) shared with larger weight by the short
channels, slow drifts, autoregressive noise per channel, and optionally motion artefacts (spikes that
return to baseline and baseline shifts that persist, at random times or locked to the tapping trials, as
when a participant moves while tapping; each moves the whole cap, every channel its own way, or with
``--motion-scope optode`` one source or detector, only its channels, by 3-10 times their own SD by default) and bad
channels. Haemoglobin is turned into optical density with the inverse of MNE's modified Beer-Lambert
law (same extinction coefficients, distances and ppf), then into intensity, written to SNIRF with
MNE-NIRS and into BIDS with MNE-BIDS. The ground truth goes to ``sourcedata/ground_truth/`` (each motion
artefact with the optode it moved and the pairs it hit, or "all").

Optionally two groups of participants (alternating) whose response amplitudes differ by a known factor.

Modules: options (SimulationOptions), dataset (participants, gains, dataset files), recording (one
recording, haemoglobin to intensity, BIDS), signals (physiology, noise, drifts, motion, bad channels),
truth (ground truth files), cli (``fnirs-glm-simulate``).
"""

from bids_app.simulate.cli import main
from bids_app.simulate.dataset import simulate_dataset
from bids_app.simulate.options import CONDITIONS, SimulationOptions

__all__ = ["CONDITIONS", "SimulationOptions", "main", "simulate_dataset"]
