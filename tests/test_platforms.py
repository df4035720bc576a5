"""Platform integrations: the Boutiques descriptor, brainlife's ``main``, the Apptainer definition and the
SLURM scripts. The descriptor is checked against the real parser; ``main`` and the SLURM scripts run the real
command line on the bundled example, with ``FNIRS_GLM_CMD`` standing in for the container and a fake
``sbatch`` recording what would be submitted."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from bids_app import brainlife, container
from bids_app.cli import build_parser, parse_args
from bids_app.derivatives import write_dataset_files

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "tests" / "data" / "grptap"  # sub-01 (ses-01, ses-02) and sub-02 (ses-01)
DESCRIPTOR = REPO / "boutiques" / "fnirs-glm.json"
MAKE_BOUTIQUES = REPO / "scripts" / "make_boutiques.py"
SLURM_TASK = REPO / "scripts" / "slurm_participants.sh"
SLURM_SUBMIT = REPO / "scripts" / "slurm_submit.sh"
VERSION = (REPO / "version").read_text().strip()
APP_CMD = f"{sys.executable} {REPO / 'run.py'}"  # FNIRS_GLM_CMD: the app itself instead of a container
REGENERATE = "boutiques/fnirs-glm.json is out of date with the parser: run python scripts/make_boutiques.py"


def parser_actions() -> list[argparse.Action]:
    skip = (argparse._HelpAction, argparse._VersionAction)
    return [a for a in build_parser()._actions if not isinstance(a, skip)]


def load_descriptor() -> dict:
    return json.loads(DESCRIPTOR.read_text())


def run(cmd, *, env=None, cwd=None, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], env={**os.environ, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, check=False)


def recorder(tmp_path: Path, name: str, answer: str = "") -> tuple[Path, Path]:
    """An executable ``name`` that appends its arguments (and $SIF) as one JSON line to a log, then runs the
    Python statement ``answer`` (with ``n``, the number of calls so far)."""
    bin_dir, log = tmp_path / "bin", tmp_path / f"{name}.log"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"with open({str(log)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'args': sys.argv[1:], 'SIF': os.environ.get('SIF')}) + '\\n')\n"
        f"n = len(open({str(log)!r}).readlines())\n{answer}\n"
    )
    script.chmod(0o755)
    return script, log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# --- Boutiques -------------------------------------------------------------------------------------------


def test_descriptor_is_generated_from_the_current_parser():
    spec = importlib.util.spec_from_file_location("make_boutiques", MAKE_BOUTIQUES)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert DESCRIPTOR.read_text() == module.render(), REGENERATE


def test_make_boutiques_check_mode(tmp_path):
    result = run([sys.executable, MAKE_BOUTIQUES, "--check"])
    assert result.returncode == 0, result.stderr + "\n" + REGENERATE
    stale = tmp_path / "stale.json"
    stale.write_text(DESCRIPTOR.read_text().replace('"--n_cpus"', '"--n-cpus-old"'))
    result = run([sys.executable, MAKE_BOUTIQUES, "--check", "--output", stale])
    assert result.returncode == 1
    assert "out of date" in result.stderr and "python scripts/make_boutiques.py" in result.stderr
    assert stale.read_text().count("--n-cpus-old") == 1  # --check never writes


def test_every_parser_option_appears_once():
    descriptor = load_descriptor()
    inputs = descriptor["inputs"]
    ids = [i["id"] for i in inputs]
    assert len(ids) == len(set(ids))
    template = descriptor["command-line"].split("; ", 1)[1]
    flags = [i.get("command-line-flag") for i in inputs if "command-line-flag" in i]
    assert len(flags) == len(set(flags))
    options = [a for a in parser_actions() if a.option_strings]
    for action in parser_actions():
        matches = [i for i in inputs if i["id"] == action.dest]
        assert len(matches) == 1, f"{action.dest}: {len(matches)} inputs; {REGENERATE}"
        entry = matches[0]
        assert template.split().count(entry["value-key"]) == 1, entry["value-key"]
        if action.option_strings:
            assert entry["command-line-flag"] in action.option_strings
            assert entry["optional"] is True
    # nothing in the descriptor that the parser no longer has
    assert sorted(flags) == sorted(
        next(i["command-line-flag"] for i in inputs if i["id"] == a.dest) for a in options
    ), REGENERATE
    value_keys = set(re.findall(r"\[[A-Z_]+\]", template))
    assert value_keys == {i["value-key"] for i in inputs}


def test_descriptor_has_the_bids_app_fields():
    descriptor = load_descriptor()
    assert descriptor["name"] == "fnirs-glm"
    assert descriptor["schema-version"] == "0.5"
    assert descriptor["tool-version"] == VERSION
    assert descriptor["container-image"] == {"type": "docker", "image": f"fnirs-glm:{VERSION}"}
    assert set(descriptor["tags"]["domain"]) >= {"neuroinformatics", "fnirs", "bids"}
    assert descriptor["suggested-resources"]["cpu-cores"] >= 1
    assert descriptor["command-line"].startswith(
        "mkdir -p [OUTPUT_DIR]; python /app/run.py [BIDS_DIR] [OUTPUT_DIR] [ANALYSIS_LEVEL] "
        "[PARTICIPANT_LABEL] [SESSION_LABEL]"
    )
    by_key = {}
    for entry in descriptor["inputs"]:
        by_key.setdefault(entry["value-key"], []).append(entry)
    assert [e["type"] for e in by_key["[BIDS_DIR]"]] == ["File"]
    assert sorted(e["type"] for e in by_key["[OUTPUT_DIR]"]) == ["File", "String"]
    assert by_key["[ANALYSIS_LEVEL]"][0]["value-choices"] == ["participant", "group"]
    assert [o["path-template"] for o in descriptor["output-files"]] == ["[OUTPUT_DIR]"]


def substitute(descriptor: dict, values: dict) -> str:
    """Boutiques' rule, written out by hand: each value-key becomes [flag] value(s), or nothing."""
    line = descriptor["command-line"]
    for entry in descriptor["inputs"]:
        key = entry["value-key"]
        if entry["id"] not in values:
            if not any(e["value-key"] == key and e["id"] in values for e in descriptor["inputs"]):
                line = line.replace(" " + key, "")
            continue
        value = values[entry["id"]]
        if entry["type"] == "Flag":
            text = entry["command-line-flag"] if value else ""
        else:
            items = value if entry.get("list") else [value]
            text = entry.get("list-separator", " ").join(shlex.quote(str(v)) for v in items)
            if "command-line-flag" in entry:
                text = f"{entry['command-line-flag']} {text}"
        line = line.replace(key, text)
    return line


def test_descriptor_command_line_is_accepted_by_the_parser():
    descriptor = load_descriptor()
    line = substitute(descriptor, {
        "bids_dir": "/data", "output_dir": "/out", "analysis_level": "group",
        "participant_label": ["01", "sub-02"], "skip_bids_validator": True, "verbose": True,
        "n_cpus": 3, "resample_hz": 0.3, "noise_model": "ar1",
        "contrast": ["Tapping/Left - Tapping/Right", "0.5*A + 0.5*B"],
    })
    setup, command = line.split("; ", 1)
    assert setup == "mkdir -p /out"
    argv = shlex.split(command)
    assert argv[:2] == ["python", "/app/run.py"]
    config = parse_args(argv[2:])
    assert (config.bids_dir, config.output_dir) == (Path("/data"), Path("/out"))
    assert config.analysis_level == "group"
    assert config.participant_label == ("01", "02")
    assert config.skip_bids_validator is True and config.verbose == 1 and config.n_cpus == 3
    assert config.first_level.resample_hz == 0.3 and config.first_level.noise_model == "ar1"
    assert config.first_level.contrast == ("Tapping/Left - Tapping/Right", "0.5*A + 0.5*B")


def test_descriptor_validates_with_boutiques(tmp_path):
    import boutiques  # a test requirement (requirements-test.txt)

    boutiques.bosh(["validate", "--bids", str(DESCRIPTOR)])  # raises DescriptorValidationError if invalid
    invocation = tmp_path / "invocation.json"
    invocation.write_text(json.dumps({
        "bids_dir": "/data", "output_dir": "/out", "analysis_level": "participant",
        "participant_label": ["01"], "contrast": ["A - B", "C"], "n_cpus": 2, "skip_bids_validator": True,
    }))
    out = boutiques.bosh(["exec", "simulate", str(DESCRIPTOR), "-i", str(invocation)])
    argv = shlex.split(out.shell_command.split("; ", 1)[1])
    config = parse_args(argv[2:])
    assert config.participant_label == ("01",) and config.n_cpus == 2 and config.skip_bids_validator
    assert config.first_level.contrast == ("A - B", "C")


# --- brainlife -------------------------------------------------------------------------------------------


def test_config_to_argv_defaults_and_values():
    assert brainlife.config_to_argv({"bids": "/in"}) == ["/in", "output", "participant"]
    argv = brainlife.config_to_argv({
        "_app": "5e3c", "_tid": 1, "_inputs": [{"id": "bids"}],  # brainlife's own keys
        "bids": "/in", "output": "/out", "analysis_level": "group",
        "participant_label": "01 sub-02", "noise_model": "ar1", "contrast": ["A - B", "C"],
        "skip_bids_validator": True, "verbose": False, "n_cpus": 2, "resample_hz": 0.3,
        "hrf": "", "stim_dur": None, "group_covariates": [],  # unset fields are ignored
    })
    config = parse_args(argv)
    assert (config.bids_dir, config.output_dir, config.analysis_level) == (Path("/in"), Path("/out"), "group")
    assert config.participant_label == ("01", "02")
    assert config.skip_bids_validator is True and config.verbose == 0 and config.n_cpus == 2
    assert config.first_level.noise_model == "ar1" and config.first_level.resample_hz == 0.3
    assert config.first_level.contrast == ("A - B", "C")
    assert config.first_level.hrf == "glover" and config.first_level.stim_dur is None
    assert brainlife.config_to_argv({"bids": "/in", "contrast": "A - B"})[-2:] == ["--contrast", "A - B"]


def sample_value(action: argparse.Action):
    if action.nargs == 0:
        return True
    if action.choices:
        value = list(action.choices)[-1]
    elif action.type is int:
        value = 2
    elif action.type is float:
        value = 0.05
    else:
        value = "x.json" if action.type is Path or action.dest.endswith("_file") else "A - B"
    if action.nargs in ("+", "*"):
        return ["a", "b"]
    if isinstance(action.nargs, int):  # a fixed number of values, e.g. --fir-window START END
        return [value] * action.nargs
    return [value] if isinstance(action, argparse._AppendAction) else value


@pytest.mark.parametrize("action", [a for a in parser_actions() if a.option_strings], ids=lambda a: a.dest)
def test_every_parser_option_maps_from_config_json(action):
    value = sample_value(action)
    argv = brainlife.config_to_argv({"bids": "/in", action.dest: value})
    parsed = build_parser().parse_args(argv)
    got = getattr(parsed, action.dest)
    if action.nargs == 0:
        assert got in (True, 1)
    elif isinstance(value, list):
        assert [str(v) for v in got] == [str(v) for v in value]
    else:
        assert str(got) == str(value)


@pytest.mark.parametrize(("config", "message"), [
    ({"bids": "/in", "noise_modle": "ar1"}, "unknown key 'noise_modle'; did you mean 'noise_model'?"),
    ({"bids": "/in", "colour": 1}, "unknown key 'colour'"),
    ({"bids": "/in", "version": True}, "unknown key 'version'"),
    ({"bids": "/in", "long_channel_max_mm": 40}, "only a --config file option"),
    ({"bids": "/in", "skip_bids_validator": "yes"}, "'skip_bids_validator' is a flag"),
    ({"bids": "/in", "n_cpus": [1, 2]}, "'n_cpus' must be a string or a number"),
    ({"bids": "/in", "bids_dir": "/other"}, "'bids_dir' repeats 'bids'"),
    ({"bids": "/in", "fir_window": "-5"}, "'fir_window' takes 2 values, e.g. \"START END\"; got \"-5\""),
    ({"output": "/out"}, 'missing key "bids"'),
])
def test_config_to_argv_errors(config, message):
    with pytest.raises(brainlife.ConfigError, match=re.escape(message)) as info:
        brainlife.config_to_argv(config)
    assert "\n" not in str(info.value)


def test_main_dry_run_and_errors(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"bids": "/in", "participant_label": ["01"]}))
    result = run(["bash", REPO / "main", "--dry-run"], cwd=tmp_path,
                 env={"FNIRS_GLM_CMD": "apptainer run x.sif"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "apptainer run x.sif /in output participant --participant_label 01"
    result = run(["bash", REPO / "main", "--dry-run"], cwd=tmp_path, env={"FNIRS_GLM_CMD": ""})
    assert result.stdout.startswith("python3 /app/run.py /in output participant")
    (tmp_path / "config.json").write_text(json.dumps({"bids": "/in", "smoothing": 3}))
    result = run(["bash", REPO / "main"], cwd=tmp_path)
    assert result.returncode == 2
    known = ["bids", "output", "analysis_level"] + [a.dest for a in parser_actions() if a.option_strings]
    assert result.stderr.strip().splitlines() == [
        "fnirs-glm brainlife: error: config.json: unknown key 'smoothing'; known keys: " + ", ".join(known)
    ]
    (tmp_path / "config.json").unlink()
    result = run(["bash", REPO / "main"], cwd=tmp_path)
    assert result.returncode == 2 and "config.json not found" in result.stderr


@pytest.mark.slow  # a real participant run (4-9 s)
def test_main_runs_the_app_on_the_example(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({
        "_app": "fnirs-glm", "bids": str(EXAMPLE), "participant_label": "01", "skip_bids_validator": True,
        "noise_model": "ar1", "resample_hz": 0.3,
    }))
    result = run(["bash", REPO / "main"], cwd=tmp_path, env={"FNIRS_GLM_CMD": APP_CMD})
    assert result.returncode == 0, result.stderr
    out = tmp_path / "output"  # the default output directory, in the job's directory
    assert (out / "dataset_description.json").is_file()
    for session in ("ses-01", "ses-02"):
        nirs = out / "sub-01" / session / "nirs"
        assert (nirs / f"sub-01_{session}_task-tapping_desc-channel_stats.tsv").is_file()
    assert not (out / "sub-02").exists()
    design = json.loads(next((out / "sub-01" / "ses-01" / "nirs").glob("*_design.json")).read_text())
    assert "ar1" in json.dumps(design).lower()


# --- Apptainer -------------------------------------------------------------------------------------------


def test_apptainer_definition_matches_version_and_entry_point():
    text = (REPO / "scripts" / "fnirs-glm.def").read_text()
    header = dict(re.findall(r"^(Bootstrap|From):\s*(\S+)\s*$", text, flags=re.MULTILINE))
    assert header == {"Bootstrap": "docker-daemon", "From": f"fnirs-glm:{VERSION}"}
    label = rf"^\s+org\.opencontainers\.image\.version {re.escape(VERSION)}$"
    assert re.search(label, text, flags=re.MULTILINE)
    runscript = text.split("%runscript", 1)[1].split("%", 1)[0].strip()
    assert runscript == 'exec python /app/run.py "$@"'
    assert 'ENTRYPOINT ["python", "/app/run.py"]' in (REPO / "Dockerfile").read_text()


# --- GeneratedBy.Container: the runtime and image ---------------------------------------------------------

CONTAINER_VARIABLES = ("FNIRS_GLM_CONTAINER", "APPTAINER_CONTAINER", "APPTAINER_NAME", "SINGULARITY_CONTAINER",
                       "SINGULARITY_NAME", "container")


@pytest.fixture
def no_container(monkeypatch, tmp_path):
    """No container variable set, and the runtimes' marker files pointed at files that do not exist."""
    for variable in CONTAINER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(container, "DOCKER_MARKER", tmp_path / ".dockerenv")
    monkeypatch.setattr(container, "PODMAN_MARKER", tmp_path / ".containerenv")
    return tmp_path


IMAGE = "fnirs-glm:1.2.3"
# What apptainer 1.4.5 sets under `run --containall --cleanenv fnirs-glm.sif` (seen by .ci/apptainer_test.sh)
# when it mounts the SIF (as root); as a non-root user without squashfuse it unpacks the SIF into a temporary
# sandbox, and APPTAINER_CONTAINER names that (no URI of the image).
APPTAINER_SET = {"FNIRS_GLM_CONTAINER": IMAGE, "APPTAINER_CONTAINER": "/scratch/fnirs-glm.sif",
                 "APPTAINER_NAME": "fnirs-glm.sif", "SINGULARITY_CONTAINER": "/scratch/fnirs-glm.sif",
                 "SINGULARITY_NAME": "fnirs-glm.sif"}


@pytest.mark.parametrize("environment, markers, expected", [
    ({}, [], None),
    ({}, [".dockerenv"], None),  # the app installed in some other image: unknown, not recorded
    ({"FNIRS_GLM_CONTAINER": IMAGE}, [".dockerenv"], {"Type": "docker", "Tag": IMAGE}),
    ({"FNIRS_GLM_CONTAINER": IMAGE}, [".containerenv"], {"Type": "podman", "Tag": IMAGE}),
    ({"FNIRS_GLM_CONTAINER": IMAGE, "container": "podman"}, [], {"Type": "podman", "Tag": IMAGE}),
    ({"FNIRS_GLM_CONTAINER": IMAGE, "container": "oci"}, [], {"Type": "oci", "Tag": IMAGE}),
    ({"FNIRS_GLM_CONTAINER": IMAGE}, [], {"Tag": IMAGE}),  # runtime unknown
    ({"FNIRS_GLM_CONTAINER": IMAGE, "APPTAINER_CONTAINER": "/home/me/fnirs-glm.sif",
      "SINGULARITY_CONTAINER": "/home/me/fnirs-glm.sif"}, [],
     {"Type": "apptainer", "Tag": IMAGE, "URI": "file:///home/me/fnirs-glm.sif"}),
    ({"SINGULARITY_CONTAINER": "/scratch/app.sif"}, [".dockerenv"],
     {"Type": "singularity", "Tag": "app.sif", "URI": "file:///scratch/app.sif"}),
    (APPTAINER_SET, [], {"Type": "apptainer", "Tag": IMAGE, "URI": "file:///scratch/fnirs-glm.sif"}),
    ({**APPTAINER_SET, "APPTAINER_CONTAINER": "/tmp/rootfs-3343948343/root",
      "SINGULARITY_CONTAINER": "/tmp/rootfs-3343948343/root"}, [], {"Type": "apptainer", "Tag": IMAGE}),
    ({"APPTAINER_CONTAINER": "/tmp/rootfs-1/root", "APPTAINER_NAME": "fnirs-glm.sif"}, [],
     {"Type": "apptainer", "Tag": "fnirs-glm.sif"}),
])
def test_container_runtime_and_image(no_container, monkeypatch, environment, markers, expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for marker in markers:
        (no_container / marker).write_text("")
    assert container.container_description() == expected


def test_dataset_description_records_the_container(no_container, monkeypatch, tmp_path):
    monkeypatch.setenv("FNIRS_GLM_CONTAINER", f"fnirs-glm:{VERSION}")
    monkeypatch.setenv("APPTAINER_CONTAINER", "/images/fnirs-glm.sif")
    write_dataset_files(tmp_path / "out", bids_dir=EXAMPLE, model={})
    generated_by = json.loads((tmp_path / "out" / "dataset_description.json").read_text())["GeneratedBy"][0]
    assert generated_by["Container"] == {"Type": "apptainer", "Tag": f"fnirs-glm:{VERSION}",
                                         "URI": "file:///images/fnirs-glm.sif"}
    monkeypatch.delenv("FNIRS_GLM_CONTAINER")
    monkeypatch.delenv("APPTAINER_CONTAINER")
    write_dataset_files(tmp_path / "out", bids_dir=EXAMPLE, model={})
    generated_by = json.loads((tmp_path / "out" / "dataset_description.json").read_text())["GeneratedBy"][0]
    assert "Container" not in generated_by and generated_by["Name"] == "fnirs-glm"


# --- SLURM -----------------------------------------------------------------------------------------------


def test_slurm_list_participants():
    result = run(["bash", SLURM_TASK, "--list", EXAMPLE])
    assert result.stdout.split() == ["01", "02"]
    result = run(["bash", SLURM_TASK, "--list", EXAMPLE], env={"PARTICIPANTS": "sub-02 01"})
    assert result.stdout.split() == ["02", "01"]


def test_slurm_job_requests_are_the_documented_ones():
    requests = re.findall(r"^#SBATCH --([a-z-]+)=(\S+)$", SLURM_TASK.read_text(), flags=re.MULTILINE)
    assert dict(requests) == {"job-name": "fnirs-glm", "cpus-per-task": "1", "mem": "2G", "time": "01:00:00"}
    assert "asks for 1 CPU, 2 GB and 1 hour per job" in (REPO / "README.md").read_text()


def test_slurm_submit_array_then_dependent_group(tmp_path):
    sbatch, log = recorder(tmp_path, "sbatch", answer="print('Submitted batch job', 122 + n)")
    out = tmp_path / "out"
    env = {"PATH": f"{sbatch.parent}:{os.environ['PATH']}", "FNIRS_GLM_CMD": "",
           "SIF": str(tmp_path / "x.sif"), "SLURM_LOG_DIR": str(tmp_path / "logs"), "MAX_PARALLEL": "",
           "SBATCH_ARGS": "--account=lab"}
    result = run(["bash", SLURM_SUBMIT, EXAMPLE, out, "--", "--noise-model", "ar1"], env=env)
    assert result.returncode == 2 and "x.sif: Apptainer image not found" in result.stderr
    assert calls(log) == []
    (tmp_path / "x.sif").write_text("")
    result = run(["bash", SLURM_SUBMIT, EXAMPLE, out, "--", "--noise-model", "ar1"], env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    array, group = calls(log)
    tail = [str(SLURM_TASK), str(EXAMPLE), str(out), "--noise-model", "ar1"]
    assert "--array=1-2" in array["args"] and "--account=lab" in array["args"]
    assert array["args"][-len(tail):] == tail
    assert "--dependency=afterok:123" in group["args"] and "--account=lab" in group["args"]
    assert group["args"][-len(tail) - 1:] == tail[:1] + ["--group"] + tail[1:]
    assert array["SIF"] == group["SIF"] == str(tmp_path / "x.sif")
    assert "job 123" in result.stdout and "job 124" in result.stdout
    assert out.is_dir() and (tmp_path / "logs").is_dir()

    log.unlink()
    env.update({"PARTICIPANTS": "02", "MAX_PARALLEL": "4", "FNIRS_GLM_CMD": APP_CMD, "SIF": ""})
    result = run(["bash", SLURM_SUBMIT, EXAMPLE, out], env=env)
    assert result.returncode == 0, result.stderr
    array, group = calls(log)
    assert "--array=1-1%4" in array["args"] and array["args"][-3:] == tail[:3]
    assert "--dependency=afterok:123" in group["args"]


def test_slurm_task_runs_the_container_command(tmp_path):
    apptainer, log = recorder(tmp_path, "apptainer")
    sif = tmp_path / "fnirs-glm.sif"
    sif.write_text("")
    out = tmp_path / "out"
    env = {"PATH": f"{apptainer.parent}:{os.environ['PATH']}", "FNIRS_GLM_CMD": "", "SIF": str(sif),
           "SLURM_ARRAY_TASK_ID": "1", "SLURM_CPUS_PER_TASK": "4", "PARTICIPANTS": ""}
    result = run(["bash", SLURM_TASK, EXAMPLE, out, "--hrf", "spm"], env=env)
    assert result.returncode == 0, result.stderr
    assert calls(log)[0]["args"] == [
        "run", "--containall", "--cleanenv", "-B", f"{EXAMPLE}:/data:ro", "-B", f"{out}:/out", str(sif), "/data", "/out",
        "participant", "--participant_label", "01", "--n_cpus", "4", "--hrf", "spm",
    ]
    result = run(["bash", SLURM_TASK, "--group", EXAMPLE, out], env={**env, "PARTICIPANTS": "01 02"})
    assert calls(log)[1]["args"][-4:] == ["group", "--participant_label", "01", "02"]
    result = run(["bash", SLURM_TASK, EXAMPLE, out], env={**env, "SLURM_ARRAY_TASK_ID": "3"})
    assert result.returncode == 2 and "array task 3: there are 2 participants" in result.stderr
    result = run(["bash", SLURM_TASK, EXAMPLE, out], env={**env, "SLURM_ARRAY_TASK_ID": ""})
    assert result.returncode == 2 and "SLURM_ARRAY_TASK_ID is not set" in result.stderr
    assert len(calls(log)) == 2


@pytest.mark.slow  # a real participant run (4-9 s)
def test_slurm_array_task_analyses_its_participant(tmp_path):
    out = tmp_path / "out"
    env = {"FNIRS_GLM_CMD": APP_CMD, "SLURM_ARRAY_TASK_ID": "2", "SLURM_CPUS_PER_TASK": "1",
           "PARTICIPANTS": ""}
    result = run(["bash", SLURM_TASK, EXAMPLE, out, "--skip_bids_validator"], env=env)
    assert result.returncode == 0, result.stderr
    assert "--participant_label 02" in result.stderr
    nirs = out / "sub-02" / "ses-01" / "nirs"
    assert (nirs / "sub-02_ses-01_task-tapping_desc-channel_stats.tsv").is_file()
    assert not (out / "sub-01").exists()
