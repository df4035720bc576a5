"""Loading one recording (bids_app.inputs, bids_app.bids_files) in memory: the raw intensity as MNE reads the SNIRF file, the
sidecars, and the checksums of the inputs."""

import hashlib
import shutil

import numpy as np
import pandas as pd

from bids_app.bids_files import input_fingerprint, read_tsv
from bids_app.inputs import coordinate_system, read_channels_tsv, read_raw_intensity
from tests.helpers import EXAMPLE, example_path


def test_raw_intensity_is_the_snirf_data_with_channels_tsv_order():
    import mne

    bids_path = example_path()
    raw = read_raw_intensity(bids_path)
    direct = mne.io.read_raw_snirf(bids_path.fpath, verbose="error").load_data()
    channels = pd.read_csv(EXAMPLE / "sub-01/ses-01/nirs/sub-01_ses-01_task-tapping_channels.tsv", sep="\t")
    assert raw.ch_names == direct.ch_names == channels["name"].tolist()
    assert set(raw.get_channel_types()) == {"fnirs_cw_amplitude"} and raw.preload
    np.testing.assert_array_equal(raw.get_data(), direct.get_data())
    assert raw.info["sfreq"] == direct.info["sfreq"] and len(raw.times) == 1960


def test_channels_tsv_and_coordinate_system(tmp_path):
    table = read_channels_tsv(example_path())
    assert len(table) == 102 and (table["status"] == "good").all() and table["status_description"].isna().all()
    assert coordinate_system(example_path()) == ("Other", None)
    root = tmp_path / "bids"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("sub-02", "ses-02"))
    nirs = root / "sub-01" / "ses-01" / "nirs"
    tsv = nirs / "sub-01_ses-01_task-tapping_channels.tsv"
    tsv.write_text("\ufeff" + "\n".join(line.rsplit("\t", 2)[0] for line in tsv.read_text().splitlines()) + "\n")
    table = read_channels_tsv(example_path(root=root))  # BOM read; status columns added, empty
    assert table.columns[0] == "name" and table["status"].isna().all() and len(table) == 102
    (nirs / "sub-01_ses-01_coordsystem.json").unlink()
    assert coordinate_system(example_path(root=root)) == (None, None)


def test_read_tsv_keeps_text_and_reads_na_as_missing(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n007\tn/a\n1.50\t\n")
    table = read_tsv(path)
    assert table["a"].tolist() == ["007", "1.50"] and table["b"].isna().tolist() == [True, False]
    assert table.at[1, "b"] == ""


def test_input_fingerprint_is_the_sha256_of_each_input_file(tmp_path):
    fingerprint = input_fingerprint(example_path())
    nirs = EXAMPLE / "sub-01" / "ses-01" / "nirs"
    expected = {path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16] for path in
                [nirs / f"sub-01_ses-01_task-tapping_{s}" for s in ("nirs.snirf", "events.tsv", "channels.tsv",
                                                                    "nirs.json")]
                + [nirs / "sub-01_ses-01_coordsystem.json", nirs / "sub-01_ses-01_optodes.tsv"]}
    assert fingerprint == expected
    roi = tmp_path / "rois.json"
    roi.write_text('{"a": ["S1_D1"]}')
    with_roi = input_fingerprint(example_path(), roi_file=str(roi))
    assert with_roi["rois.json"] == hashlib.sha256(roi.read_bytes()).hexdigest()[:16] and len(with_roi) == 7
