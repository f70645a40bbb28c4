"""Training and evaluation: prepared recordings, the training loop, fold models, metrics, LOWO."""

from rtdecode.metrics import auroc, balanced_accuracy, f1_score
from rtdecode.training._dataset import Prepared, prepare_recording, stream_window, windows
from rtdecode.training._fit import STATES, TrainConfig, predict_recording, train_model
from rtdecode.training._folds import fold_model

__all__ = [
    "STATES",
    "Prepared",
    "TrainConfig",
    "auroc",
    "balanced_accuracy",
    "f1_score",
    "fold_model",
    "predict_recording",
    "prepare_recording",
    "stream_window",
    "train_model",
    "windows",
]
