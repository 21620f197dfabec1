"""Silence the libraries' progress bars and known deprecation noise; ftkit reports progress as events."""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["quiet_libraries"]

_NOISY_LOGGERS = ("transformers", "trl", "peft", "datasets", "accelerate", "bitsandbytes", "torch.distributed")
_KNOWN_WARNINGS = (
    ".*is_gradient_checkpointing.*",  # raised inside TRL/PEFT, not by anything a user can change
    ".*gradient_checkpointing.*deprecated.*",
    ".*torch.jit.*",
    ".*Merge lora module to 4-bit.*",  # ftkit merges into a full-precision base instead
)


def quiet_libraries(*, all_future_warnings: bool = False) -> None:
    """Idempotent. ``all_future_warnings`` (worker processes only) also drops every FutureWarning, since
    nobody reads a detached worker's stderr and ftkit pins the APIs it calls."""
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for pattern in _KNOWN_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    if all_future_warnings:
        warnings.filterwarnings("ignore", category=FutureWarning)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
