"""`ManagedProvider`: the base of providers that fine-tune through a hosted job API.

Every hosted fine-tuning service has the same shape: upload the data, create a job, poll it, read its
events, answer prompts with the result. What that shape shares is written here once; a subclass
supplies only the calls and rules that are its own:

* **Upload once per content hash.** :meth:`~ManagedProvider.upload_dataset` converts the data with
  ``ftkit.data.convert(source, cls.data_format, ...)``, reuses a file ftkit remembers for exactly these
  bytes (this job's or an earlier job's, once the service confirms it still holds it), and otherwise
  uploads under ftkit's content-addressed name (``ftkit-train-<hash16>.jsonl``) without SDK retries;
  after an ambiguous failure it lists the account's files and adopts the one with that name.
* **Create exactly once.** :meth:`~ManagedProvider.create_job_once` looks the job up by the tag ftkit
  puts on it before creating, and after every ambiguous failure (5xx, timeout, dropped connection),
  and stores the remote id the moment it is known. A create the service refuses for good
  (:class:`~ftkit.errors.JobCreationClosedError`) deletes the files uploaded for it.
* **One polling policy.** Subclasses declare ``poll_interval``/``max_poll_interval``; the facade backs off
  with the one formula in :mod:`ftkit._polling`. ``poll_interval=`` at construction only moves the start.
* **Generation** through chat completions, ``settings.concurrency`` calls in flight and
  ``settings.requests_per_minute``, each call retried on 429/5xx; it sends ``model.serving_id or
  model.model_id``. A subclass gives only the client call (:meth:`~ManagedProvider.chat`).
* **The estimate skeleton** (:meth:`~ManagedProvider.estimate_spec`): tokens from the provider's
  ``token_counter``, epochs, billed tokens, price from its ``catalog()`` (the model's own price or its
  size bracket), availability dates (:meth:`~ManagedProvider.availability`); hooks add what differs.
* **One hook for SDK errors** (:meth:`~ManagedProvider.map_error`): every SDK exception is translated
  once by :class:`ftkit._managed.SdkErrors` (401/403 authentication, 429 rate limit, 404 not found,
  connection errors); the hook may replace the result with a provider-specific error.

A subclass implements::

    class MyProvider(ManagedProvider):
        name = "my"; display_name = "My Cloud"; data_format = "messages"
        def build_api(self, *, policy, **settings) -> ManagedApi: ...     # SDK client, max_retries=0
        def create_file(self, client, name, content): ...                   # one upload, no retries
        def list_files(self, client): ...                                   # files with .filename/.bytes
        def create_job(self, client, ctx, files, prepared): ...             # one create, no retries
        def find_job(self, client, ctx): ...                                # the job by ftkit's tag, or None
        def retrieve_job(self, client, remote_id): ...
        def job_status(self, ctx, job) -> JobStatus: ...
        def chat(self, client, model_name, messages, settings): ...         # one chat completion
        # and the Provider verbs that stay its own: events(), result(), cancel(), ...

Optional hooks: :meth:`preflight` (checks before any upload; what it returns reaches ``create_job``),
:meth:`before_create` (the service's own go/no-go once the files are up, e.g. a price quote),
:meth:`upload_file` (replace the content-addressed upload, e.g. for a service that deduplicates by
checksum itself), :meth:`after_upload` (wait for server-side validation), :meth:`file_exists`,
:meth:`delete_file`, :meth:`map_error`, :meth:`remote_id_of` (a job's id where it is not ``.id``),
:meth:`availability` (dates that stop a model: the catalog's, plus what the service's own listing says) and
the estimate hooks (:meth:`per_example_cap`, :meth:`count_notes`, :meth:`billed_parts`,
:meth:`training_price`, :meth:`estimate_checks`).

Pause and resume stay a provider's own verbs (``Capability.PAUSE``/``RESUME``); the facade guards them and
``wait()`` raises :class:`~ftkit.errors.JobPausedError` on a job whose status maps to ``JobState.PAUSED``.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ftkit._hashing import sha256_file
from ftkit._managed import ManagedApi, fan_out, remembered_upload, upload_name
from ftkit._retry import DEFAULT_POLICY, RetryPolicy
from ftkit.errors import FtkitError, JobCreationClosedError, JobNotFoundError, ProviderError
from ftkit.provider import JobContext, Provider
from ftkit.types import Generation, GenerationSettings, JobState, JobStatus

if TYPE_CHECKING:
    from ftkit.estimation.catalog import Catalog, CatalogModel, Price
    from ftkit.estimation.types import Estimate, TokenCount
    from ftkit.model import TrainedModel
    from ftkit.spec import JobSpec

__all__ = ["EstimateNotes", "ManagedProvider"]

#: ``ctx.data`` key listing the file ids this job uploaded itself (what a refused create deletes)
FRESH_UPLOADS = "fresh_uploads"


class ManagedProvider(Provider):
    """Base class of providers backed by a hosted fine-tuning job API (see the module docstring).

    Connection settings: ``api_key=``, ``base_url=``, ``poll_interval=`` (the first polling interval of
    ``wait()``; the facade backs off from there), ``retry_policy=`` (:class:`ftkit._retry.RetryPolicy`
    for safe calls), and whatever else the subclass's :meth:`build_api` accepts.
    """

    #: how messages name the service ("OpenAI", "Together")
    display_name: ClassVar[str] = ""

    def __init__(
        self,
        *,
        api_key: Any = None,
        base_url: str | None = None,
        poll_interval: float | None = None,
        retry_policy: RetryPolicy | None = None,
        **settings: Any,
    ):
        super().__init__(api_key=api_key, base_url=base_url)
        if poll_interval is not None:
            self.poll_interval = poll_interval  # the facade scales the maximum to it (ftkit._polling)
        self.api = self.build_api(policy=retry_policy or DEFAULT_POLICY, **settings)
        self.api.map_error = self.map_error
        self.base_url = self.api.base_url

    @classmethod
    def title(cls) -> str:
        return cls.display_name or cls.name

    # -- what a subclass supplies ----------------------------------------------------------------------

    def build_api(self, *, policy: RetryPolicy, **settings: Any) -> ManagedApi:
        """The SDK client wrapper (``self.api_key`` is read lazily; build the client with ``max_retries=0``)."""
        raise NotImplementedError

    def create_file(self, client: Any, name: str, content: bytes) -> Any:
        """Upload ``content`` as ``name`` once (no retries); returns the file object (with ``.id``)."""
        raise NotImplementedError

    def list_files(self, client: Any) -> Any:
        """The account's fine-tuning files (objects with ``.filename`` and ``.bytes``), newest first."""
        raise NotImplementedError

    def create_job(self, client: Any, ctx: JobContext, files: dict[str, str | None], prepared: Any) -> Any:
        """Create the remote job once (no retries), tagged so :meth:`find_job` finds it."""
        raise NotImplementedError

    def find_job(self, client: Any, ctx: JobContext) -> Any | None:
        """The remote job carrying this ftkit job's tag, if one exists (safe to call repeatedly)."""
        raise NotImplementedError

    def retrieve_job(self, client: Any, remote_id: str) -> Any:
        raise NotImplementedError

    def remote_id_of(self, job: Any) -> str:
        """The id :meth:`retrieve_job` takes, from a job object the SDK returned (``job.id`` by default;
        a service whose jobs carry a resource name instead, ``accounts/<a>/jobs/<id>``, overrides it)."""
        return job.id

    def job_status(self, ctx: JobContext, job: Any) -> JobStatus:
        """The remote job as a :class:`JobStatus` (keep the service's word in ``raw_status``)."""
        raise NotImplementedError

    def chat(self, client: Any, model_name: str, messages: list[dict[str, Any]], settings: GenerationSettings) -> Any:
        """One chat completion (an OpenAI-shaped response: ``choices[0].message.content``, ``usage``)."""
        raise NotImplementedError

    # -- optional hooks ---------------------------------------------------------------------------------

    def preflight(self, ctx: JobContext) -> Any:
        """Checks before anything is uploaded (dates, limits); the result is passed to :meth:`create_job`."""
        return None

    def before_create(self, ctx: JobContext, files: dict[str, str | None], prepared: Any) -> None:
        """The service's own go/no-go once the files are up (e.g. a price quote); raise to stop before a job exists."""

    def after_upload(self, ctx: JobContext, file_id: str, path: Path, role: str) -> None:
        """Called with every file the job will use (uploaded now or reused), e.g. to await validation."""

    def file_exists(self, client: Any, file_id: str) -> Any:
        """A look-up that raises a 404 when the service no longer holds ``file_id``."""
        return client.files.retrieve(file_id)

    def delete_file(self, client: Any, file_id: str) -> Any:
        return client.files.delete(file_id)

    def map_error(self, exc: BaseException, error: FtkitError) -> FtkitError:
        """The one SDK-error hook: ``error`` is ftkit's translation of ``exc``; return it or a better one."""
        return error

    # -- upload once per content hash --------------------------------------------------------------------

    def upload_dataset(self, ctx: JobContext, source: Any, *, role: str) -> str:
        """Convert ``source`` to :attr:`data_format` and return the file id holding exactly those bytes."""
        from ftkit import data

        out = ctx.workdir / f"{self.name}-{role}.jsonl"
        path = Path(data.convert(source, self.data_format, method=ctx.spec.method.value, out=out,
                                 overwrite=True))  # the job's own work folder
        content_hash = sha256_file(path)
        key = f"{role}_file"
        file_id = remembered_upload(
            ctx, endpoint=self.api.endpoint, key=key, content_hash=content_hash,
            exists=lambda known: self.api.exists(lambda c: self.file_exists(c, known)),
        )
        if file_id is None:
            from ftkit._progress import report

            name = upload_name(role, content_hash)
            size, task = path.stat().st_size, f"uploading {path.name} to {self.title()}"
            report(task, 0, size, unit="bytes")  # one SDK call: the bar shows it running, then done
            file_id = self.upload_file(ctx, path, name=name)
            report(task, size, size, unit="bytes", finished=True)
            ctx.record_upload(self.api.endpoint, content_hash, file_id, name)
            ctx.remember(**{FRESH_UPLOADS: [*ctx.data.get(FRESH_UPLOADS, []), file_id]})
            ctx.log(f"uploaded {path.name} to {self.title()} as {file_id} ({path.stat().st_size} bytes)")
        ctx.remember(**{key: file_id, f"{key}_sha256": content_hash})
        self.after_upload(ctx, file_id, path, role)
        return file_id

    def upload_file(self, ctx: JobContext, path: Path, *, name: str) -> str:
        """Upload ``path`` under ``name`` exactly once: after an ambiguous failure the account's files are
        listed and one with that name and size is adopted instead of uploading the bytes again."""
        content = path.read_bytes()

        def find(client: Any) -> Any | None:
            return next((f for f in self.list_files(client) if f.filename == name and f.bytes == len(content)), None)

        return self.api.once(find=find, create=lambda client: self.create_file(client, name, content)).id

    # -- create exactly once -------------------------------------------------------------------------------

    def submit(self, ctx: JobContext) -> JobStatus:
        """Preflight, upload (train, then validation), create once; idempotent after any interruption."""
        if ctx.remote_id:
            return self.status(ctx)  # an earlier call got this far: nothing more to do
        prepared = self.preflight(ctx)
        files: dict[str, str | None] = {"training_file": self.upload_dataset(ctx, ctx.spec.train, role="train"),
                                        "validation_file": None}
        if ctx.spec.validation is not None:
            files["validation_file"] = self.upload_dataset(ctx, ctx.spec.validation, role="validation")
        self.before_create(ctx, files, prepared)
        return self.job_status(ctx, self.create_job_once(ctx, files, prepared))

    def create_job_once(self, ctx: JobContext, files: dict[str, str | None], prepared: Any = None) -> Any:
        """Create the remote job, or adopt the one an earlier, interrupted attempt created."""
        try:
            job = self.api.once(find=lambda c: self.find_job(c, ctx),
                                create=lambda c: self.create_job(c, ctx, files, prepared))
        except JobCreationClosedError:
            self.discard_uploads(ctx)
            raise
        ctx.remember(remote_id=self.remote_id_of(job))
        ctx.log(f"created {self.title()} job {self.remote_id_of(job)} on {ctx.spec.model}")
        return job

    def discard_uploads(self, ctx: JobContext) -> list[str]:
        """Delete the files this job uploaded itself (not those it reused), so a job that cannot be created
        leaves nothing behind on the service; returns the ids deleted."""
        deleted = []
        for file_id in ctx.data.get(FRESH_UPLOADS, []):
            try:
                self.api.safe(lambda c, file_id=file_id: self.delete_file(c, file_id))
            except ProviderError as e:
                if e.status_code != 404:
                    ctx.log(f"could not delete {file_id} from {self.title()} ({e}); delete it by hand", "warning")
                    continue
            deleted.append(file_id)
            ctx.log(f"deleted {file_id} from {self.title()}: the job it was uploaded for was refused")
        ctx.remember(**{FRESH_UPLOADS: [f for f in ctx.data.get(FRESH_UPLOADS, []) if f not in deleted]})
        return deleted

    # -- status --------------------------------------------------------------------------------------------

    def remote_id(self, ctx: JobContext) -> str | None:
        """The remote job id, found by ftkit's tag if a crash lost it between create and remember."""
        if ctx.remote_id:
            return ctx.remote_id
        if not ctx.data.get("train_file"):
            return None  # nothing was uploaded, so nothing can have been created
        job = self.api.safe(lambda c: self.find_job(c, ctx))
        if job is None:
            return None
        ctx.remember(remote_id=self.remote_id_of(job))
        return self.remote_id_of(job)

    def retrieve(self, ctx: JobContext, remote_id: str) -> Any:
        return self.api.safe(lambda c: self.retrieve_job(c, remote_id),
                             not_found=lambda: JobNotFoundError(remote_id, self.title()))

    def status(self, ctx: JobContext) -> JobStatus:
        remote_id = self.remote_id(ctx)
        if remote_id is None:
            return JobStatus(job_id=ctx.job_id, provider=self.name, state=JobState.PENDING, raw_status="not created")
        return self.job_status(ctx, self.retrieve(ctx, remote_id))

    # -- generation ------------------------------------------------------------------------------------------

    def generate(
        self, model: TrainedModel, prompts: list[list[dict[str, Any]]], settings: GenerationSettings
    ) -> list[Generation]:
        """One answer per chat prompt, in order: ``settings.concurrency`` requests in flight at most,
        ``settings.requests_per_minute`` if set, each retried on 429/5xx/timeouts (honouring Retry-After).
        A deployed model is addressed by its ``serving_id``."""
        model_name = model.serving_id or model.model_id

        def answer(messages: list[dict[str, Any]]) -> Generation:
            started = time.perf_counter()
            completion = self.api.safe(lambda client: self.chat(client, model_name, messages, settings))
            latency = time.perf_counter() - started
            choices = getattr(completion, "choices", None) or []
            message = choices[0].message if choices else None
            usage = getattr(completion, "usage", None)
            return Generation(
                text=(message.content if message else None) or "",
                prompt_tokens=getattr(usage, "prompt_tokens", None),
                completion_tokens=getattr(usage, "completion_tokens", None),
                latency_s=round(latency, 4),
            )

        return fan_out(answer, prompts, concurrency=settings.concurrency,
                       requests_per_minute=settings.requests_per_minute)

    # -- the estimate skeleton --------------------------------------------------------------------------------

    def estimate(self, spec: JobSpec, *, today: date | None = None) -> Estimate:
        return self.estimate_spec(spec, today=today)

    @classmethod
    def estimate_spec(cls, spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None) -> Estimate:
        """Tokens, epochs, billed tokens, cost and availability of ``spec`` on this service, offline."""
        from ftkit._managed_estimate import estimate_spec

        return estimate_spec(cls, spec, counts=counts, today=today)

    @classmethod
    def availability(cls, model: str, today: date) -> tuple[list[str], list[str]]:
        """``(errors, warnings)`` about dates that stop ``model`` (default: the catalog's; a provider that knows
        the service's own dates adds or replaces them)."""
        from ftkit.estimation.catalog import availability_messages

        return availability_messages(cls.name, model, today)

    @classmethod
    def per_example_cap(cls, entry: CatalogModel | None) -> int | None:
        """Tokens above which one example is truncated (counted at the cap); None: no cap."""
        return None

    @classmethod
    def count_notes(cls, spec: JobSpec, counts: TokenCount, entry: CatalogModel | None, notes: EstimateNotes) -> None:
        """What the token count rests on (how the tokenizer counts, what it leaves out)."""
        notes.assume(f"Tokens counted with {counts.tokenizer}.")

    @classmethod
    def billed_parts(cls, spec: JobSpec, counts: TokenCount, epochs: int, entry: CatalogModel | None,
                     notes: EstimateNotes) -> dict[str, int]:
        """Billed tokens per cost line (``{"training": ..., "evaluation": ...}``). Default: every training
        token once per epoch, validation free."""
        billed = counts.total_tokens * epochs
        notes.assume(f"Billed tokens = training tokens x epochs = {counts.total_tokens:,} x {epochs} = {billed:,}; "
                     "validation tokens are not billed.")
        return {"training": billed}

    @classmethod
    def training_price(cls, catalog: Catalog, entry: CatalogModel | None, method: str,
                       adapter: str) -> tuple[Price | None, str]:
        """The per-token price for ``method``/``adapter``: the model's own, else its size bracket's."""
        if entry is None:
            return None, ""
        own = entry.training_price(method, adapter)
        if own is not None:
            return own, f"{entry.name}'s own {method}/{adapter} price"
        if entry.parameters_b is not None:
            bracket = catalog.bracket_for(entry.parameters_b)
            if bracket is not None and f"{method}/{adapter}" in bracket.prices:
                return (bracket.prices[f"{method}/{adapter}"],
                        f"{method}/{adapter} price of the {bracket.name} bracket ({entry.parameters_b:g}B parameters)")
        return None, ""

    @classmethod
    def estimate_checks(cls, spec: JobSpec, counts: TokenCount, catalog: Catalog, entry: CatalogModel | None,
                        notes: EstimateNotes, *, today: date) -> None:
        """Provider-specific warnings and errors (beyond minimum examples, methods and dates)."""


class EstimateNotes:
    """What an estimate says about itself: assumptions, warnings (act on these) and errors (these stop it)."""

    def __init__(self) -> None:
        self.assumptions: list[str] = []
        self.warnings: list[str] = []
        self.errors: list[str] = []

    def assume(self, message: str) -> None:
        self.assumptions.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def error(self, message: str) -> None:
        self.errors.append(message)
