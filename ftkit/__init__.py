"""ftkit: one `FineTuneJob` API over local and managed LLM fine-tuning.

>>> from ftkit import FineTuneJob
>>> job = FineTuneJob(provider="local", model="Qwen/Qwen2.5-0.5B-Instruct", train="train.jsonl",
...                   method="sft", adapter="qlora", epochs=3)          # doctest: +SKIP
>>> job.validate(); job.estimate(); job.start(); model = job.wait()    # doctest: +SKIP

Heavy dependencies (torch, transformers, provider SDKs) load only when a provider or command needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
from ftkit.job import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.spec import Adapter, JobSpec, Method
from ftkit.types import GenerationSettings, JobEvent, JobState, JobStatus

if TYPE_CHECKING:
    from ftkit.evaluation import compare, evaluate

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


def __getattr__(name: str) -> Any:
    # evaluation pulls in numpy and the providers' generate paths: load it on first use only
    if name in ("evaluate", "compare"):
        from ftkit import evaluation

        return getattr(evaluation, name)
    raise AttributeError(f"module 'ftkit' has no attribute {name!r}")
