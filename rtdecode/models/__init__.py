"""Decoder networks, their file format and the label vocabulary."""

from rtdecode.models._format import (
    ModelFile,
    default_model_path,
    load_model_file,
    save_model_file,
)
from rtdecode.models._gnn import RelationalGNN
from rtdecode.models._labels import LabelVocabulary, canonical_label
from rtdecode.models._registry import ARCHITECTURES, build_network

__all__ = [
    "ARCHITECTURES",
    "LabelVocabulary",
    "ModelFile",
    "RelationalGNN",
    "build_network",
    "canonical_label",
    "default_model_path",
    "load_model_file",
    "save_model_file",
]
