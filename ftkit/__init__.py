"""ftkit: one `FineTuneJob` API over local and managed LLM fine-tuning.

>>> from ftkit import FineTuneJob
>>> job = FineTuneJob(provider="local", model="Qwen/Qwen2.5-0.5B-Instruct", train="train.jsonl",
...                   method="sft", adapter="qlora", epochs=3)          # doctest: +SKIP
>>> job.validate(); job.estimate(); job.start(); model = job.wait()    # doctest: +SKIP

Heavy dependencies (torch, transformers, provider SDKs) load only when a provider or command needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.data.report import Issue, ValidationReport
    from ftkit.errors import (
        AuthenticationError,
        ConfigError,
        DatasetError,
        DeploymentFailedError,
        DeploymentNotFoundError,
        FtkitError,
        JobCancelledError,
        JobCreationClosedError,
        JobError,
        JobFailedError,
        JobNotFoundError,
        JobPausedError,
        JobStateError,
        MissingCredentialsError,
        ProviderConnectionError,
        ProviderError,
        ProviderUnavailableError,
        RateLimitError,
        StoreError,
        StoreVersionError,
        UnknownProviderError,
        UnsupportedCapabilityError,
        UnsupportedSettingError,
        WaitTimeoutError,
    )
    from ftkit.estimation.types import Estimate
    from ftkit.evaluation import compare, evaluate
    from ftkit.job import FineTuneJob
    from ftkit.model import TrainedModel
    from ftkit.spec import Adapter, JobSpec, Method
    from ftkit.types import GenerationSettings, JobEvent, JobState, JobStatus

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "AuthenticationError",
    "ConfigError",
    "DatasetError",
    "DeploymentFailedError",
    "DeploymentNotFoundError",
    "Estimate",
    "FineTuneJob",
    "FtkitError",
    "GenerationSettings",
    "Issue",
    "JobCancelledError",
    "JobCreationClosedError",
    "JobError",
    "JobEvent",
    "JobFailedError",
    "JobNotFoundError",
    "JobPausedError",
    "JobSpec",
    "JobState",
    "JobStateError",
    "JobStatus",
    "Method",
    "MissingCredentialsError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitError",
    "StoreError",
    "StoreVersionError",
    "TrainedModel",
    "UnknownProviderError",
    "UnsupportedCapabilityError",
    "UnsupportedSettingError",
    "ValidationReport",
    "WaitTimeoutError",
    "__version__",
    "compare",
    "evaluate",
]


#: Where each public name lives. Nothing is imported until a name is used: ``import ftkit.data._chunk`` in
#: each of the validator's helper processes runs this file too, and importing the job API, the report's
#: pydantic models and numpy here cost every helper ~0.3 s.
_LAZY = {
    **dict.fromkeys(("Issue", "ValidationReport"), "ftkit.data.report"),
    **dict.fromkeys(
        (name for name in __all__ if name.endswith("Error")), "ftkit.errors"),
    "Estimate": "ftkit.estimation.types",
    "FineTuneJob": "ftkit.job",
    "TrainedModel": "ftkit.model",
    **dict.fromkeys(("Adapter", "JobSpec", "Method"), "ftkit.spec"),
    **dict.fromkeys(("GenerationSettings", "JobEvent", "JobState", "JobStatus"), "ftkit.types"),
    **dict.fromkeys(("compare", "evaluate"), "ftkit.evaluation"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ftkit' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
