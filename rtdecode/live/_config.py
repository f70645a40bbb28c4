"""The frozen :class:`RunConfig` of a live session: what ``rtdecode run`` and the rig file set.

Every default lives here, in the section dataclasses; the command line shows them and never
repeats them. Sections: ``[source]``, ``[decoder]``, ``[behavior]``, ``[calibration]``,
``[policy]`` (present: the loop is closed), ``[safety]`` and ``[view]``. Reading a rig file and
applying flags on top of it is :mod:`rtdecode.live._rig`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from rtdecode.calibration import DEFAULT_PART, OUTPUTS, CalibrationConfig
from rtdecode.engines import ENGINES
from rtdecode.errors import ConfigError
from rtdecode.policy import DEFAULT_ABSTAIN, PolicyConfig
from rtdecode.trigger import Safety

__all__ = [
    "MAX_NEURONS",
    "BehaviorConfig",
    "CalibrationSection",
    "DecoderConfig",
    "RunConfig",
    "SafetyConfig",
    "SourceConfig",
    "ViewConfig",
]

MAX_NEURONS = 2048
"""Most neurons per frame decoded by default (the GNN's memory grows with the square)."""


def _positive(name: str, value: float | None, strict: bool = True) -> None:
    if value is not None and not (value > 0 if strict else value >= 0):
        raise ConfigError(f"{name} must be {'>' if strict else '>='} 0, got {value}")


@dataclass(frozen=True)
class SourceConfig:
    """``[source]``: where frames come from and where predictions go.

    Parameters
    ----------
    addresses
        ``zmq+tcp://HOST:PORT``, ``zmq+ipc://PATH`` (add ``?bind`` to bind) or ``lsl://NAME``;
        several: one process decodes them all, stream k with its own window and sinks.
    sinks
        ``zmq+tcp://HOST:PORT`` (binds a PUB), ``lsl://NAME`` (an outlet) or ``FILE.h5`` (the
        session file). With several addresses, stream k's sinks get a suffix: TCP port
        ``PORT+k-1``, ``NAME-k``, ``FILE-k.h5``.
    resolve_timeout_s
        Seconds to look for an ``lsl://`` stream (and the behaviour's) at start before giving
        up with an error; a negative value looks until it appears (a reminder is logged every
        30 s). A stop signal ends the look-up within a second either way.
    frame_interval_s
        Seconds per frame (``None``: measured from the frame times).
    raw_fluorescence
        The input is raw F: track each neuron's baseline and decode dF/F.
    max_neurons
        Frames with more neurons are refused (counted as malformed): the model's memory grows
        with the square of the neuron count.
    insecure
        Allow a ZeroMQ bind beyond loopback without CURVE keys.
    overwrite
        Replace an existing session file (refused by default).
    session_activity
        A session file keeps each published frame's preprocessed row (all neurons, float32),
        so ``rtdecode view SESSION.h5`` shows the activity, the graph and the manifold; about
        75 MB per hour at 10 frames/s for 150 neurons (docs/view.md).
    """

    addresses: tuple[str, ...] = ()
    sinks: tuple[str, ...] = ()
    resolve_timeout_s: float = 10.0
    frame_interval_s: float | None = None
    raw_fluorescence: bool = False
    max_neurons: int = MAX_NEURONS
    insecure: bool = False
    overwrite: bool = False
    session_activity: bool = True

    def __post_init__(self) -> None:
        _positive("source.frame_interval_s", self.frame_interval_s)
        if self.max_neurons < 1:
            raise ConfigError(f"source.max_neurons must be >= 1, got {self.max_neurons}")


@dataclass(frozen=True)
class DecoderConfig:
    """``[decoder]``: the model, its runtime, and how the decoded output is decided.

    Parameters
    ----------
    model
        Model file (``None``: the shipped model).
    engine
        Inference runtime, one of :data:`rtdecode.engines.ENGINES`: numba (one fused kernel, the fastest on
        a CPU; relational_gnn models only), torch and onnx (references), cuda (NVIDIA GPU).
    window
        Frames of history per neuron (``None``: the model's).
    threads
        Intra-op threads of the torch engine (1 avoids the tail of thread contention).
    abstain
        ``[lo, hi]``: a reversal probability strictly inside is decided ``uncertain``, and the
        trigger policy takes no decision there (the one band of the decoder and the policy);
        ``None`` turns it off.
    max_carried
        A prediction is ``uncertain`` when more than this fraction of its window was carried
        forward (missing or NaN input).
    settle_frames
        After a layout reset, predictions are ``uncertain`` for this many frames (``None``: two
        windows, so the running normalisation has settled).
    max_batch
        Most frames taken in one go before the newest is decoded when behind; 1 decodes every
        frame (latency grows instead, until the bounded input queue drops).
    max_frames
        Stop after this many frames per stream (``None``: until stopped).
    busy_poll
        Spin on the sources instead of sleeping: lower latency at low rates, one busy core.
    keep_warm_ms
        While idle, run a discarded forward every this many ms so the next frame finds caches
        and clocks warm (``None``: never).
    cpu
        Pin the decoder process to this core (``None``: any).
    fused
        Issue 17's fused decision after self-calibration: ``"shipped"`` (the cross-animal part
        fit on the six training animals, ``rtdecode/resources/cross-model.npz``) or the path of
        one ``tools/fit_cross_model.py`` wrote. When calibration ends, the animal's part (neuron
        roles, state and onset heads) is fit on the same frames and ``fused_part`` decides
        (``head = 2``). ``None`` (``--fused none``): off, issue 10's calibrated head or the
        shipped model decides. Unused with calibration off.
    fused_part
        Which of the fused decision's outputs decides (:data:`~rtdecode.calibration.OUTPUTS`):
        the stack, ``"fused"``, or one of its components. The default, the fused decision's
        per-animal state head, is what nested leave-one-animal-out chose for the trigger
        (``tools/trigger_study.py``: no identities, sustained onsets within +2.4 s at 0.5 false
        triggers per minute; see docs/results.md).
    """

    model: str | None = None
    engine: str = "numba"
    window: int | None = None
    threads: int = 1
    abstain: tuple[float, float] | None = DEFAULT_ABSTAIN
    max_carried: float = 0.25
    settle_frames: int | None = None
    fused: str | None = "shipped"
    fused_part: str = DEFAULT_PART
    max_batch: int = 256
    max_frames: int | None = None
    busy_poll: bool = False
    keep_warm_ms: float | None = None
    cpu: int | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"decoder.engine must be one of {ENGINES}, got {self.engine!r}")
        if self.abstain is not None:
            band = tuple(float(v) for v in self.abstain)
            if len(band) != 2 or not 0.0 <= band[0] <= band[1] <= 1.0:
                raise ConfigError(
                    f"decoder.abstain must be [lo, hi] with 0 <= lo <= hi <= 1, got {self.abstain}"
                )
            object.__setattr__(self, "abstain", None if band[0] == band[1] else band)
        for name in ("window", "threads", "max_batch", "max_frames"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"decoder.{name} must be >= 1, got {value}")
        if not 0.0 <= self.max_carried <= 1.0:
            raise ConfigError(f"decoder.max_carried must be in [0, 1], got {self.max_carried}")
        if self.settle_frames is not None and self.settle_frames < 0:
            raise ConfigError(f"decoder.settle_frames must be >= 0, got {self.settle_frames}")
        _positive("decoder.keep_warm_ms", self.keep_warm_ms)
        _positive("decoder.cpu", self.cpu, strict=False)
        if self.fused_part not in OUTPUTS:
            raise ConfigError(
                f"decoder.fused_part must be one of {OUTPUTS}, got {self.fused_part!r}"
            )


@dataclass(frozen=True)
class BehaviorConfig:
    """``[behavior]``: the tracked animal, aligned to the frames by time.

    Parameters
    ----------
    source
        The behaviour's own stream: ``zmq+tcp://``, ``zmq+ipc://`` ('behavior' messages) or
        ``lsl://NAME`` (channels labelled velocity and/or reversal); ``None``: 'behavior'
        messages on the frame socket, when there are any.
    max_age_s
        Oldest behaviour sample (seconds before the frame) that may give a frame its target.
    fuse
        ``--fuse-behavior``: after self-calibration the fused stack (``decoder.fused``) also
        takes the latest tracked velocity no older than ``max_age_s``; a frame without one
        decides on the neural score. Off by default: immobilised preparations have no velocity.
    """

    source: str | None = None
    max_age_s: float = 1.0
    fuse: bool = False

    def __post_init__(self) -> None:
        _positive("behavior.max_age_s", self.max_age_s)


@dataclass(frozen=True)
class CalibrationSection:
    """``[calibration]``: self-calibration of a new animal's head.

    In the rig file the keys of :class:`~rtdecode.calibration.CalibrationConfig` (``seconds``,
    ``margin``, ``prior``, ...) sit beside ``enabled`` and ``start_from``.

    Parameters
    ----------
    enabled
        Fit the animal's own head on the first ``fit.seconds`` of tracked behaviour while the
        shipped model decodes, and switch to it if it beats the shipped model on the most
        recent held-back part.
    start_from
        An earlier session of this animal (a session file of a calibrated run, or a recording
        with behaviour): its head decodes from the first frame.
    fit
        How the head is fit.
    """

    enabled: bool = True
    start_from: str | None = None
    fit: CalibrationConfig = field(default_factory=CalibrationConfig)

    def __post_init__(self) -> None:
        if not self.enabled and self.start_from is not None:
            raise ConfigError(
                "calibration.start_from (--calibration-from) needs self-calibration on: drop "
                "--calibrate 0 (the earlier head decodes from the first frame while this "
                "session calibrates too)"
            )


@dataclass(frozen=True)
class SafetyConfig:
    """``[safety]``: what the closed loop drives and the interlocks around it (with a policy).

    Parameters
    ----------
    outputs
        ``serial:///dev/ttyACM0?baud=115200`` (the reference device), ``zmq+tcp://HOST:PORT``
        (PUB, topic 'trigger') or ``lsl://NAME`` (Markers).
    arm
        Drive the outputs (otherwise nothing fires).
    dry_run
        Run armed but drive nothing: log what would fire.
    sham
        Control session: ``poisson`` (random pulses at the rate the policy would have had) or
        ``yoked:SESSION.h5`` (replay an earlier session's pulse times).
    sham_seed
        Seed of the poisson sham.
    watchdog_ms
        Disarm when no frame arrived for this long (``None``: two frame periods).
    rearm
        After a watchdog disarm: ``auto`` re-arms once healthy again (logged), ``never`` stays
        off.
    healthy_frames, malformed_per_s
        As :class:`~rtdecode.trigger.Safety`.
    frame_clock
        Run the policy on the frames' acquisition times instead of the host clock: for replays
        faster than real time.
    """

    outputs: tuple[str, ...] = ()
    arm: bool = False
    dry_run: bool = False
    sham: str | None = None
    sham_seed: int = 0
    watchdog_ms: float | None = None
    rearm: str = Safety.rearm
    healthy_frames: int = Safety.healthy_frames
    malformed_per_s: float = Safety.malformed_per_s
    frame_clock: bool = Safety.frame_clock

    def __post_init__(self) -> None:
        self.safety()  # validates what the controller will be given

    def safety(self) -> Safety:
        """The controller's :class:`~rtdecode.trigger.Safety` for these settings."""
        return Safety(
            armed=self.arm,
            dry_run=self.dry_run,
            watchdog_s=None if self.watchdog_ms is None else self.watchdog_ms / 1e3,
            rearm=self.rearm,
            healthy_frames=self.healthy_frames,
            malformed_per_s=self.malformed_per_s,
            frame_clock=self.frame_clock,
        )


@dataclass(frozen=True)
class ViewConfig:
    """``[view]``: the live browser page of the decoder (``rtdecode[view]``; see docs/view.md).

    Parameters
    ----------
    address
        ``[HOST:]PORT`` the page listens on (loopback unless a host is given); ``None``: no
        page.
    token
        Access token of a page beyond loopback (``None``: a new one, printed with the address;
        the ``RTDECODE_VIEW_TOKEN`` environment variable sets ``--view-token``).
        ``source.insecure`` serves it beyond loopback without one.
    linger_s
        After decoding stops, keep the page (showing "stopped" and the summary) this long; a
        stop signal ends it sooner.
    feed
        ``zmq+tcp://HOST:PORT`` or ``zmq+ipc://PATH`` where the decoder also publishes its view
        feed (everything the page shows, the activity included) for ``rtdecode view --connect``
        in another process or on another machine; works without ``address``. The feed is not
        encrypted: beyond loopback it needs ``source.insecure``. ``None``: no feed of its own.
    """

    address: str | None = None
    token: str | None = None
    linger_s: float = 5.0
    feed: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.address, int):  # a rig file's ``address = 5006``
            object.__setattr__(self, "address", str(self.address))
        if self.address is not None:
            from rtdecode.view import parse_view_address

            parse_view_address(self.address)
        if self.feed is not None and not self.feed.startswith(("zmq+tcp://", "zmq+ipc://")):
            raise ConfigError(
                f"view.feed '{self.feed}': give a zmq+tcp://HOST:PORT or zmq+ipc://PATH address"
            )
        _positive("view.linger_s", self.linger_s, strict=False)


_ONE_STREAM = {
    ("policy", None): "each rig's light needs its own policy and output",
    ("behavior", "source"): "send each rig's behaviour on its frame socket",
    ("calibration", "start_from"): "an earlier session is of one animal",
}
_FLAGS = {
    "policy": "--trigger",
    "behavior.source": "--behavior-source",
    "calibration.start_from": "--calibration-from",
    "safety.outputs": "--trigger-out",
    "safety.arm": "--arm",
    "safety.dry_run": "--dry-run",
    "safety.sham": "--sham",
    "safety.watchdog_ms": "--watchdog-ms",
}
"""The flags of ``rtdecode run`` that set a key, for messages that name both."""


def _named(key: str) -> str:
    """``--flag (section.key)``, or the key alone when no flag sets it."""
    flag = _FLAGS.get(key)
    return key if flag is None else f"{flag} ({key})"


@dataclass(frozen=True)
class RunConfig:
    """Everything a live session needs, validated as a whole on creation.

    Parameters
    ----------
    source, decoder, behaviour, calibration, safety, view
        The sections (see each class).
    policy
        The trigger policy; ``None``: the loop stays open (no trigger).
    """

    source: SourceConfig = field(default_factory=SourceConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    behavior: BehaviorConfig = field(default_factory=BehaviorConfig)
    calibration: CalibrationSection = field(default_factory=CalibrationSection)
    policy: PolicyConfig | None = None
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    view: ViewConfig = field(default_factory=ViewConfig)

    def __post_init__(self) -> None:
        if self.policy is None and self.safety != SafetyConfig():
            changed = [
                _named(f"safety.{f.name}")
                for f in dataclasses.fields(SafetyConfig)
                if getattr(self.safety, f.name) != f.default
            ]
            raise ConfigError(
                f"{', '.join(changed)} only work with a trigger policy; add --trigger or a "
                "[policy] table"
            )
        if len(self.source.addresses) > 1:
            self._check_one_stream()
        if self.policy is not None and self.policy.abstain not in (None, self.decoder.abstain):
            raise ConfigError(
                f"the policy sets abstain {list(self.policy.abstain)} but the decoder's band is "
                f"{self.decoder.abstain}; one band serves the decoder and the policy: drop one"
            )
        if self.behavior.fuse and (self.decoder.fused is None or not self.calibration.enabled):
            raise ConfigError(
                "--fuse-behavior adds velocity to the fused decision after self-calibration: it "
                "needs --fused (not none) and --calibrate (not 0)"
            )
        if self.behavior.fuse and self.policy is not None and self.policy.false_per_min:
            raise ConfigError(
                "--false-per-min sets its threshold on the calibration period's neural scores, "
                "which --fuse-behavior changes: use one of them"
            )

    def _check_one_stream(self) -> None:
        """The settings that belong to one stream, refused with several sources."""
        for (section, key), why in _ONE_STREAM.items():
            value = getattr(self, section)
            if key is not None:
                value = getattr(value, key)
            if value is not None:
                name = section if key is None else f"{section}.{key}"
                raise ConfigError(
                    f"{_FLAGS.get(name, name)} is for one stream and {len(self.source.addresses)} "
                    f"sources were given ({why}; rig file: {name}); run one rtdecode per stream "
                    "for it"
                )

    @property
    def several(self) -> bool:
        """Whether several streams are decoded."""
        return len(self.source.addresses) > 1

    def replace(self, section: str, **values: Any) -> RunConfig:
        """A copy with keys of one section replaced (validated again)."""
        current = getattr(self, section)
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **values)})
