"""Loading the real recordings gives what their README states, labels aligned with columns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rtdecode.data import Recording, discover_recordings, load_recording, read_flavell_h5


def _class_trace(recording: Recording, neuron_class: str) -> np.ndarray | None:
    columns = [i for i, lab in enumerate(recording.labels) if lab and lab[:-1] == neuron_class]
    return recording.traces[:, columns].mean(axis=1) if columns else None


def test_every_shared_recording_loads_with_the_documented_shapes(flavell_dir: Path) -> None:
    files = discover_recordings(flavell_dir)
    assert len(files) == 6
    for file in files:
        rec = load_recording(file)
        assert rec.traces.dtype == np.float32
        assert rec.n_frames == 800
        assert 130 <= rec.n_neurons <= 146
        assert abs(rec.frame_interval - 0.6) < 0.05
        assert rec.reversal is not None and rec.velocity is not None
        assert rec.reversal.shape == (rec.n_frames,)
        assert 60 <= rec.n_labelled <= rec.n_neurons
        assert rec.segments.tolist() == [[0, 800]]
        assert np.isfinite(rec.traces).all()


def test_labels_line_up_with_trace_columns(flavell_dir: Path) -> None:
    # The README's sanity check: the reversal command interneurons AVA, AIB and AVE are active
    # during reversals in every animal (a shifted labels file would scramble these signs).
    for file in discover_recordings(flavell_dir):
        rec = read_flavell_h5(file)
        assert rec.reversal is not None
        reversal = rec.reversal.astype(float)
        for neuron_class in ("AVA", "AIB", "AVE"):
            trace = _class_trace(rec, neuron_class)
            assert trace is not None, f"{rec.id}: no {neuron_class} identified"
            r = np.corrcoef(trace, reversal)[0, 1]
            assert r > 0, f"{rec.id}: {neuron_class} correlates {r:+.2f} with reversals"


def test_reversals_mean_negative_velocity(flavell_dir: Path) -> None:
    for file in discover_recordings(flavell_dir):
        rec = load_recording(file)
        assert rec.reversal is not None and rec.velocity is not None
        assert rec.velocity[rec.reversal].mean() < 0 < rec.velocity[~rec.reversal].mean()


def test_bundled_recording_is_the_shared_one(bundled: Recording, flavell_dir: Path) -> None:
    shared = load_recording(flavell_dir / f"{bundled.id}-data.h5")
    np.testing.assert_array_equal(bundled.traces, shared.traces)
    np.testing.assert_array_equal(bundled.timestamps, shared.timestamps)
    assert bundled.labels == shared.labels


def test_bundled_recording_works_without_shared(bundled: Recording) -> None:
    assert bundled.n_frames == 800 and bundled.n_neurons == 130
    assert bundled.reversal is not None and 0.2 < bundled.reversal.mean() < 0.4
    assert bundled.n_labelled > 60


@pytest.mark.parametrize("suffix", [".npz", ".nwb"])
def test_formats_round_trip(bundled: Recording, tmp_path: Path, suffix: str) -> None:
    from click.testing import CliRunner

    from rtdecode.cli import cli
    from rtdecode.data import write_npz

    source = write_npz(bundled, tmp_path / "source.npz")
    dest = tmp_path / f"copy{suffix}"
    result = CliRunner().invoke(cli, ["convert", str(source), str(dest)])
    assert result.exit_code == 0, result.output
    copy = load_recording(dest)
    assert copy.id == bundled.id
    np.testing.assert_array_equal(copy.traces, bundled.traces)
    np.testing.assert_array_equal(copy.timestamps, bundled.timestamps)
    np.testing.assert_array_equal(copy.reversal, bundled.reversal)
    np.testing.assert_allclose(copy.velocity, bundled.velocity)
    assert copy.labels == bundled.labels


def test_convert_can_strip_identities(bundled: Recording, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from rtdecode.cli import cli
    from rtdecode.data import write_npz

    source = write_npz(bundled, tmp_path / "source.npz")
    dest = tmp_path / "anonymous.npz"
    result = CliRunner().invoke(cli, ["convert", "--drop-labels", str(source), str(dest)])
    assert result.exit_code == 0, result.output
    assert load_recording(dest).n_labelled == 0


def test_info_lists_every_recording_in_a_folder(flavell_dir: Path) -> None:
    from click.testing import CliRunner

    from rtdecode.cli import cli

    result = CliRunner().invoke(cli, ["info", str(flavell_dir)])
    assert result.exit_code == 0, result.output
    assert result.output.count("800 frames") == 6
