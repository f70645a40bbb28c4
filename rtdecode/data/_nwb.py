"""Neurodata Without Borders (NWB) recordings, through pynwb (the ``nwb`` extra).

Layout written by :func:`write_nwb`, and read by :func:`read_nwb` from a lab's own files:

- ``processing/ophys``: an ``ImageSegmentation`` whose plane segmentation has one row per neuron,
  with an optional text column ``label`` (NeuroPAL identity, "" when unknown); a ``Fluorescence``
  (or ``DfOverF``) interface holding one ``RoiResponseSeries`` (T x N) with timestamps (or a start
  time and rate). When several series exist, the first by name is used.
- ``processing/behavior``: optional ``TimeSeries`` named ``reversal`` (0/1 per frame) and
  ``velocity`` (mm/s, forward positive), on the same frames as the traces.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np

from rtdecode._optional import import_optional
from rtdecode.data._recording import Recording
from rtdecode.errors import DataFormatError

__all__ = ["read_nwb", "write_nwb"]


def _pynwb() -> Any:
    return import_optional("pynwb", "nwb", "Reading and writing NWB recordings")


def write_nwb(recording: Recording, path: Path) -> Path:
    """Save ``recording`` as an NWB file in the layout of this module; return the path."""
    pynwb = _pynwb()
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    nwb = pynwb.NWBFile(
        session_description=f"rtdecode recording {recording.id}",
        identifier=recording.id,
        session_start_time=datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC),
    )
    device = nwb.create_device(name="microscope")
    plane = nwb.create_imaging_plane(
        name="volume",
        optical_channel=OpticalChannel(name="gcamp", description="GCaMP", emission_lambda=525.0),
        description="whole-brain volume; one value per neuron per volume",
        device=device,
        excitation_lambda=488.0,
        indicator="GCaMP",
        location="head ganglia",
    )
    ophys = nwb.create_processing_module(name="ophys", description="per-neuron activity")
    segmentation = ImageSegmentation()
    ophys.add(segmentation)
    neurons = segmentation.create_plane_segmentation(
        name="neurons", description="one row per tracked neuron", imaging_plane=plane
    )
    neurons.add_column(name="label", description="NeuroPAL identity, empty when unknown")
    # NWB requires a mask per ROI; a Recording carries no geometry, so each neuron gets a
    # single zero-weight voxel (x, y, z, weight) that marks "position not recorded".
    for label in recording.labels:
        neurons.add_roi(voxel_mask=[(0, 0, 0, 0.0)], label=label or "")
    rois = neurons.create_roi_table_region(
        description="all neurons", region=list(range(recording.n_neurons))
    )
    fluorescence = Fluorescence()
    ophys.add(fluorescence)
    fluorescence.create_roi_response_series(
        name="traces",
        data=recording.traces,
        rois=rois,
        unit="a.u.",
        timestamps=recording.timestamps,
    )
    behavior = nwb.create_processing_module(name="behavior", description="tracked behaviour")
    for name, values, unit in (
        ("reversal", recording.reversal, "bool"),
        ("velocity", recording.velocity, "mm/s"),
    ):
        if values is not None:
            behavior.add(
                pynwb.TimeSeries(
                    name=name,
                    data=np.asarray(values, dtype=np.float32),
                    unit=unit,
                    timestamps=recording.timestamps,
                )
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with pynwb.NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


def _response_series(nwb: Any, path: Path) -> Any:
    ophys = nwb.processing.get("ophys")
    if ophys is None:
        raise DataFormatError(
            f"{path}: NWB file has no 'ophys' processing module; rtdecode reads per-neuron traces "
            "from processing/ophys (see docs/formats.md)"
        )
    for interface_name in sorted(ophys.data_interfaces):
        interface = ophys.data_interfaces[interface_name]
        series = getattr(interface, "roi_response_series", None)
        if series:
            return series[sorted(series)[0]]
    raise DataFormatError(
        f"{path}: processing/ophys holds no RoiResponseSeries (in Fluorescence or DfOverF); "
        "write the traces as one (see docs/formats.md)"
    )


def read_nwb(path: Path) -> Recording:
    """Load a recording from an NWB file (layout in the module docstring)."""
    pynwb = _pynwb()
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"recording file {path} does not exist; check the path")
    try:
        io = pynwb.NWBHDF5IO(str(path), "r")
        nwb = io.read()
    except Exception as exc:  # h5py and hdmf raise many types for a damaged file
        raise DataFormatError(
            f"{path} is not a readable NWB file ({exc}); it may be truncated or not NWB 2.x"
        ) from exc
    with io:
        series = _response_series(nwb, path)
        traces = np.asarray(series.data[:], dtype=np.float32)
        if series.timestamps is not None:
            timestamps = np.asarray(series.timestamps[:], dtype=np.float64)
        else:
            timestamps = series.starting_time + np.arange(traces.shape[0]) / series.rate
        table = series.rois.table
        labels: tuple[str | None, ...] = (None,) * traces.shape[1]
        if "label" in table.colnames:
            picked = np.asarray(series.rois.data[:], dtype=np.int64)
            column = [str(x) for x in table["label"].data[:]]
            labels = tuple(column[i] or None for i in picked)
        behavior = nwb.processing.get("behavior")
        extra: dict[str, np.ndarray | None] = {"reversal": None, "velocity": None}
        for name in extra:
            if behavior is not None and name in behavior.data_interfaces:
                extra[name] = np.asarray(behavior.data_interfaces[name].data[:])
    reversal = extra["reversal"]
    return Recording(
        id=str(nwb.identifier),
        traces=traces,
        timestamps=timestamps,
        labels=labels,
        reversal=reversal,
        velocity=extra["velocity"],
        source=path,
    )
