"""LOWO and task maps on a local Ray runtime give what the plain run in this process gives.

Ray's footprint is kept small (2 CPUs, no dashboard, a 100 MB object store) and the runtime is
always shut down. The recordings are the bundled real recording cut into three 'animals', with
a short logistic-regression recipe (deterministic: the same figures to the last bit).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from operator import truediv
from pathlib import Path

import pytest
from click.testing import CliRunner

from rtdecode.cli import cli
from rtdecode.data import Recording, bundled_recording, write_npz
from rtdecode.training._parallel import Runner

ray = pytest.importorskip("ray", reason="needs ray: pip install 'rtdecode[cluster]'")

FOOTPRINT = {"num_cpus": 2, "object_store_mb": 100}
RECIPE = ["--recipe", "logreg", "--epochs", "2"]


@pytest.fixture(scope="module")
def runtime() -> Iterator[None]:
    """One small local Ray runtime for the module ('--ray auto' joins it), shut down after."""
    with Runner("local", **FOOTPRINT):
        yield
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def animals(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three 'animals' cut from the bundled recording (266 frames each)."""
    rec = bundled_recording()
    folder = tmp_path_factory.mktemp("animals")
    for i in range(3):
        part = slice(266 * i, 266 * (i + 1))
        write_npz(
            Recording(
                id=f"third{i}",
                traces=rec.traces[part],
                timestamps=rec.timestamps[part],
                labels=rec.labels,
                reversal=rec.reversal[part],
            ),
            folder / f"third{i}.npz",
        )
    return folder


def _lowo(data: Path, out: Path, *extra: str) -> tuple[int, str, dict]:
    args = ["eval", "--data", str(data), "--protocol", "lowo", *RECIPE, "--json", str(out)]
    args.append("--progress")  # the fold progress line, on stderr (in result.output)
    result = CliRunner().invoke(cli, [*args, *extra])
    report = json.loads(out.read_text()) if out.exists() else {}
    return result.exit_code, result.output, report


def test_a_local_runtime_started_here_runs_the_map_and_is_shut_down() -> None:
    with Runner("local", **FOOTPRINT) as runner:
        assert ray.is_initialized()
        outcome = runner.map(truediv, [1.0, 4.0], shared=2.0, echo=None)
    assert not ray.is_initialized()
    assert outcome.results == [2.0, 0.5]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_lowo_on_ray_gives_the_plain_runs_figures_and_fold_cache(
    runtime: None, animals: Path, tmp_path: Path
) -> None:
    plain_cache, ray_cache = tmp_path / "plain-cache", tmp_path / "ray-cache"
    code, output, plain = _lowo(animals, tmp_path / "plain.json", "--fold-cache", str(plain_cache))
    assert code == 0, output
    code, output, on_ray = _lowo(
        animals, tmp_path / "ray.json", "--fold-cache", str(ray_cache), "--ray", "auto"
    )
    assert code == 0, output
    assert "3/3 folds" in output
    for report in (plain, on_ray):
        assert report.pop("seconds") >= 0
    assert [r["id"] for r in on_ray["recordings"]] == ["third0", "third1", "third2"]
    assert on_ray == plain  # every per-animal figure, exactly
    assert sorted(p.name for p in ray_cache.iterdir()) == sorted(
        p.name for p in plain_cache.iterdir()
    )  # the same fold models under the same keys, nothing half-written beside them
    code, output, cached = _lowo(
        animals, tmp_path / "cached.json", "--fold-cache", str(plain_cache), "--ray", "auto"
    )
    assert code == 0, output
    cached.pop("seconds")
    assert cached == plain  # Ray workers read the models the plain run cached


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("where", [[], ["--ray", "auto"]], ids=["plain", "ray"])
def test_a_failed_fold_is_named_and_the_others_finish(
    runtime: None, animals: Path, tmp_path: Path, where: list[str]
) -> None:
    cache = tmp_path / "cache"
    code, output, _ = _lowo(animals, tmp_path / "first.json", "--fold-cache", str(cache))
    assert code == 0, output
    broken = next(cache.glob("seed0-third1-*.pt"))
    broken.write_bytes(b"not a model")  # a damaged cache file: that fold cannot load its model
    code, output, report = _lowo(
        animals, tmp_path / "second.json", "--fold-cache", str(cache), *where
    )
    assert code == 1
    assert "fold third1 failed" in output and "not a readable rtdecode model" in output
    assert [r["id"] for r in report["recordings"]] == ["third0", "third2"]
    assert report["failed"][0]["id"] == "third1"


def test_a_failed_task_is_reported_and_the_others_finish_on_ray(runtime: None) -> None:
    lines: list[str] = []
    with Runner("auto") as runner:
        outcome = runner.map(truediv, [1.0, 0.0, 4.0], 2.0, ["a", "b", "c"], echo=lines.append)
    assert outcome.results == [2.0, None, 0.5]
    assert [(f.name, f.error) for f in outcome.failures] == [
        ("b", "ZeroDivisionError: float division by zero")
    ]
    assert lines[-1].startswith("[##########] 3/3 tasks") and "1 failed" in lines[-1]


def _die(marker: str, item: int) -> int:
    """Kill this worker process while running item 1 (each time when ``marker`` ends in '-
    always', else only the first time); count the attempts in files."""
    attempts = len(list(Path(marker).glob(f"{item}-*")))
    (Path(marker) / f"{item}-{attempts}").touch()
    if item == 1 and (attempts == 0 or marker.endswith("always")):
        os._exit(1)
    return 10 * item


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["once", "always"])
def test_a_worker_killed_mid_task_is_retried_once(runtime: None, tmp_path: Path, kind: str) -> None:
    marker = tmp_path / kind
    marker.mkdir()
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    with Runner("auto") as runner:
        outcome = runner.map(_die, [0, 1, 2], str(marker), echo=None)
    assert len(list(marker.glob("1-*"))) == 2  # the first attempt and one retry, no more
    if kind == "once":
        assert outcome.results == [0, 10, 20] and not outcome.failures
    else:
        assert outcome.results == [0, None, 20]
        assert outcome.failures[0].index == 1 and "Worker" in outcome.failures[0].error


def test_the_plain_run_needs_no_ray_and_reports_failures_alike() -> None:
    lines: list[str] = []
    with Runner() as runner:
        outcome = runner.map(truediv, [1.0, 0.0], 2.0, ["a", "b"], "settings", echo=lines.append)
    assert outcome.results == [2.0, None]
    assert outcome.failures[0].name == "b" and "ZeroDivisionError" in outcome.failures[0].error
    assert "2/2 settings" in lines[-1]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_train_on_ray_writes_the_model_the_plain_run_writes(
    runtime: None, animals: Path, tmp_path: Path
) -> None:
    from rtdecode.models import load_model_file

    models = []
    for name, extra in (("plain", []), ("ray", ["--ray", "auto"])):
        out = tmp_path / f"{name}.pt"
        args = ["train", "--data", str(animals), "--out", str(out), *RECIPE, *extra]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        models.append(load_model_file(out).state_dict)
    assert models[0].keys() == models[1].keys()
    for key, weights in models[0].items():
        assert weights.equal(models[1][key]), key


def test_a_cluster_address_where_nothing_listens_fails_fast_and_says_what_to_pass() -> None:
    from rtdecode.errors import ConfigError

    with pytest.raises(ConfigError, match=r"127\.0\.0\.1:1: no Ray cluster answers.*ray start"):
        Runner("127.0.0.1:1").__enter__()
