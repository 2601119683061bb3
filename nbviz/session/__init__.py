"""The kernel-side training session: thread, commands, history."""

from .batches import BatchFormat, BatchFormatError
from .callbacks import Callback
from .control import StopTraining, TrainingControl
from .history import BoundedSeries, Event, History
from .hyperparams import HyperparameterError
from .session import TrainingError, TrainingSession
from .watch import Watch, watch

__all__ = [
    "BatchFormat", "BatchFormatError", "Callback", "BoundedSeries", "Event", "History", "HyperparameterError",
    "StopTraining", "TrainingControl", "TrainingError", "TrainingSession",
    "Watch", "watch",
]
