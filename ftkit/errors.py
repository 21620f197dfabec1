"""The one exception tree of ftkit.

Every error ftkit raises derives from :class:`FtkitError`, and every message says what to do next::

    FtkitError
    ├── ConfigError (ValueError)            bad input or setup, found before any side effect
    │   ├── UnknownProviderError            no provider registered under that name
    │   ├── ProviderUnavailableError (ImportError)   provider's extra is not installed
    │   ├── MissingCredentialsError         no API key given or found in the environment
    │   ├── UnsupportedSettingError         a setting the chosen provider cannot honour
    │   └── UnsupportedCapabilityError      a verb (cancel, deploy, merge...) the provider does not offer
    ├── DatasetError (ValueError)           the data has errors; carries the ValidationReport
    ├── StoreError                          the job store file cannot be used as it is
    │   └── StoreVersionError               written by a newer ftkit than this one
    ├── DeploymentNotFoundError (LookupError)   no such deployment in the job store
    ├── DeploymentFailedError               the provider could not bring a deployment up (it was deleted)
    ├── JobError                            the job is not in a state that allows the call
    │   ├── JobNotFoundError (LookupError)  no such job in the store or at the provider
    │   ├── JobStateError                   e.g. result() before success, cancel() after the end
    │   │   ├── JobCancelledError           wait() on a job that was cancelled
    │   │   └── JobPausedError              wait() on a job that is paused; resume() it to go on
    │   ├── JobFailedError                  the job ended in failure; carries its JobStatus
    │   └── WaitTimeoutError (TimeoutError) wait(timeout=...) ran out; the job goes on
    └── ProviderError                       the provider answered with an error
        ├── AuthenticationError             the key was refused
        ├── JobCreationClosedError          the service takes no new jobs from this account
        ├── RateLimitError                  429 after retries; carries retry_after
        └── ProviderConnectionError         the provider could not be reached

Providers translate their SDK's exceptions into these in one place and chain the original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ftkit.data.report import ValidationReport
    from ftkit.types import JobStatus

__all__ = [
    "AuthenticationError",
    "ConfigError",
    "DatasetError",
    "DeploymentFailedError",
    "DeploymentNotFoundError",
    "FtkitError",
    "JobCancelledError",
    "JobCreationClosedError",
    "JobError",
    "JobFailedError",
    "JobNotFoundError",
    "JobPausedError",
    "JobStateError",
    "MissingCredentialsError",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitError",
    "StoreError",
    "StoreVersionError",
    "UnknownProviderError",
    "UnsupportedCapabilityError",
    "UnsupportedSettingError",
    "WaitTimeoutError",
]


class FtkitError(Exception):
    """Root of every error ftkit raises."""

    #: CLI exit code for this kind of error: 2 for bad usage or setup, 1 when the data or job failed.
    exit_code: int = 1


# -- input and setup -----------------------------------------------------------------------------


class ConfigError(FtkitError, ValueError):
    """The job, its options or the environment are wrong; nothing was uploaded or trained."""

    exit_code = 2


class UnknownProviderError(ConfigError, LookupError):
    """No provider is registered under the requested name."""

    def __init__(self, name: str, available: list[str]):
        self.name = name
        self.available = available
        names = ", ".join(available) or "none"
        super().__init__(
            f"Unknown provider {name!r}. Available providers: {names}. "
            "A third-party provider registers itself through the 'ftkit.providers' entry-point group; "
            "run `ftkit providers` to see what is installed."
        )


class ProviderUnavailableError(ConfigError, ImportError):
    """The provider's optional dependencies are not installed."""

    def __init__(self, provider: str, missing: str, extra: str):
        self.provider = provider
        self.missing = missing
        self.extra = extra
        super().__init__(
            f"Provider {provider!r} needs the package {missing!r}, which is not installed. "
            f"Install it with: pip install 'ftkit[{extra}]'"
        )


class MissingCredentialsError(ConfigError):
    """No API key was passed and none was found in the environment."""

    def __init__(self, provider: str, env_var: str):
        self.provider = provider
        self.env_var = env_var
        super().__init__(
            f"No API key for provider {provider!r}. Pass api_key=... to FineTuneJob, "
            f"or set the environment variable {env_var}."
        )


class UnsupportedSettingError(ConfigError):
    """One or more settings cannot be honoured by the chosen provider.

    ``problems`` lists every offending setting, so a user fixes them all in one go.
    """

    def __init__(self, provider: str, problems: list[str]):
        self.provider = provider
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Provider {provider!r} cannot run this job as specified:\n{lines}")


class UnsupportedCapabilityError(ConfigError):
    """The provider does not offer this verb at all (not a wrong job state: no job state would allow it).

    >>> str(UnsupportedCapabilityError("openai", "merge", "download the weights first"))
    "Provider 'openai' cannot merge. Instead: download the weights first."
    """

    def __init__(self, provider: str, verb: str, instead: str | None = None):
        self.provider = provider
        self.verb = verb
        self.instead = instead
        message = f"Provider {provider!r} cannot {verb}."
        if instead:
            message += f" Instead: {instead}."
        super().__init__(message)


# -- data -----------------------------------------------------------------------------------------


class DatasetError(FtkitError, ValueError):
    """The dataset has errors. ``report`` holds every issue with its line number."""

    def __init__(self, report: ValidationReport, what: str = "training data"):
        self.report = report
        errors = [i for i in report.issues if i.severity == "error"]
        shown = "\n".join(f"  {i.format()}" for i in errors[:10])
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        super().__init__(
            f"The {what} has {len(errors)} error(s); fix them before starting the job "
            f"(run `ftkit validate` for the full report):\n{shown}{more}"
        )


# -- the job store --------------------------------------------------------------------------------


class StoreError(FtkitError):
    """The job store file cannot be used as it is (nothing in it was changed)."""

    exit_code = 2


class StoreVersionError(StoreError):
    """The job store was written by a newer ftkit, in a layout this version cannot read safely."""

    def __init__(self, path: object, found: int, supported: int, written_by: str | None = None):
        self.path = path
        self.found = found
        self.supported = supported
        self.written_by = written_by
        by = f"ftkit {written_by}" if written_by else "a newer ftkit"
        upgrade = f"pip install -U 'ftkit>={written_by}'" if written_by else "pip install -U ftkit"
        super().__init__(
            f"The job store {path} was written by {by} (store schema v{found}); this ftkit reads store "
            f"schemas up to v{supported}, so the file was left untouched. Upgrade ftkit ({upgrade}), or "
            "give this version a store of its own by setting FTKIT_HOME to another directory."
        )


class DeploymentNotFoundError(FtkitError, LookupError):
    """No deployment with that id (or id prefix) in the job store."""

    exit_code = 2

    def __init__(self, deployment_id: str, where: str = "the job store"):
        self.deployment_id = deployment_id
        super().__init__(
            f"No deployment {deployment_id!r} in {where}. Run `ftkit deployments list` to see the known deployments."
        )


class DeploymentFailedError(FtkitError):
    """The provider could not bring the deployment up; it has been deleted (or its deletion is recorded)."""


# -- job lifecycle ----------------------------------------------------------------------------------


class JobError(FtkitError):
    """The job cannot do what was asked in its current state."""


class JobNotFoundError(JobError, LookupError):
    """No job with that id in the store (or at the provider)."""

    exit_code = 2

    def __init__(self, job_id: str, where: str = "the job store"):
        self.job_id = job_id
        super().__init__(f"No job {job_id!r} in {where}. Run `ftkit jobs list` to see the known jobs.")


class JobStateError(JobError):
    """The call does not fit the job's state (e.g. ``result()`` before the job succeeded)."""


class JobCancelledError(JobStateError):
    """The job was cancelled, so it has no result."""

    def __init__(self, status: JobStatus):
        self.status = status
        super().__init__(
            f"Job {status.job_id} was cancelled, so it has no trained model. "
            "Start a new job (local jobs can `resume()` from their last checkpoint)."
        )


class JobPausedError(JobStateError):
    """The job is paused at the provider: it neither trains nor ends until it is resumed."""

    def __init__(self, status: JobStatus):
        self.status = status
        super().__init__(
            f"Job {status.job_id} on {status.provider} is paused ({status.raw_status}); it will not finish until "
            f"it is resumed: job.resume() or `ftkit jobs resume {status.job_id}`, then wait again "
            f"(or cancel it with `ftkit jobs cancel {status.job_id}`)."
        )


class JobFailedError(JobError):
    """The job ended in failure. ``status`` has the provider's raw status and error."""

    def __init__(self, status: JobStatus):
        self.status = status
        reason = status.error or "no reason given by the provider"
        super().__init__(
            f"Job {status.job_id} on {status.provider} failed ({status.raw_status}): {reason}. "
            f"See `ftkit jobs events {status.job_id}` for the log."
        )


class WaitTimeoutError(JobError, TimeoutError):
    """``wait(timeout=...)`` ran out before the job ended. The job itself goes on."""

    def __init__(self, job_id: str, timeout: float):
        self.job_id = job_id
        super().__init__(
            f"Job {job_id} did not finish within {timeout:g} s; it is still running. "
            f"Wait again with FineTuneJob.attach({job_id!r}).wait() or `ftkit jobs wait {job_id}`."
        )


# -- provider failures --------------------------------------------------------------------------------


class ProviderError(FtkitError):
    """The provider answered with an error. Keeps its message, HTTP status and request id."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        request_id: str | None = None,
        body: Any = None,
    ):
        self.provider = provider
        self.status_code = status_code
        self.request_id = request_id
        self.body = body
        detail = []
        if status_code is not None:
            detail.append(f"HTTP {status_code}")
        if request_id:
            detail.append(f"request id {request_id}")
        suffix = f" ({', '.join(detail)})" if detail else ""
        super().__init__(f"{provider}: {message}{suffix}")


class AuthenticationError(ProviderError):
    """The provider refused the credentials."""

    exit_code = 2


class JobCreationClosedError(ProviderError):
    """The provider refuses new jobs from this account for good (e.g. a service winding down).

    Nothing is left behind: the files uploaded for the refused job are deleted. The message names the
    ways on (other providers, ``ftkit migrate``).
    """

    exit_code = 2


class RateLimitError(ProviderError):
    """The provider kept answering 429 after ftkit's retries; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ProviderConnectionError(ProviderError):
    """The provider could not be reached (timeout, refused or dropped connection)."""
