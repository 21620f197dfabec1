"""The provider conformance suite: one set of tests every provider must pass.

Shipped in the package (fsspec style) so a third-party provider runs exactly the suite the built-ins
run. A provider supplies a :class:`ProviderHarness` that knows how to reach it in tests (a tiny local
model, an emulator on 127.0.0.1, ...), then::

    # tests/test_my_provider.py
    from ftkit.testing import ProviderConformance, ProviderHarness

    class MyHarness(ProviderHarness):
        name = "myprovider"
        def job_kwargs(self):
            return {"provider": "myprovider", "model": "base-1", "api_key": "test-key-123456"}

    class TestMyProvider(ProviderConformance):
        harness_class = MyHarness

Every test drives the public API (:class:`ftkit.FineTuneJob`), the same code path a user's call runs.

Cases are *selected* from what the provider declares, never skipped in silence: a provider with
``Capability.CANCEL`` gets the cancel cases, one without it gets the case that checks the capability guard
refuses the verb; ``Capability.DEPLOY`` brings the deployment cases (deploy, serve, delete, nothing left
running); ``Capability.IMPORT`` / ``INVENTORY`` bring the cases that import a job made outside ftkit (once) and
list it; a provider that takes credentials must script a 429 in its harness (``rate_limited``).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ftkit.deployment import Deployment, DeploymentState, serving
from ftkit.errors import (
    AuthenticationError,
    DatasetError,
    JobCancelledError,
    JobNotFoundError,
    JobPausedError,
    JobStateError,
    RateLimitError,
    UnsupportedCapabilityError,
    UnsupportedSettingError,
)
from ftkit.job import FineTuneJob
from ftkit.model import TrainedModel
from ftkit.registry import get_provider
from ftkit.store import JobStore
from ftkit.testing.samples import colour_examples
from ftkit.types import Capability, JobState, JobStatus

__all__ = ["EmulatorHarness", "ProviderConformance", "ProviderHarness", "requires"]


def requires(*capabilities: Capability) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Select a conformance case only for providers that declare every one of ``capabilities``."""

    def mark(test: Callable[..., Any]) -> Callable[..., Any]:
        test._ftkit_requires = capabilities  # type: ignore[attr-defined]
        return test

    return mark


#: every optional verb and how the suite calls it on a finished job / its model, to check the guard
_VERBS: dict[Capability, Callable[[FineTuneJob, TrainedModel, Path], Any]] = {
    Capability.CANCEL: lambda job, model, tmp: job.cancel(),
    Capability.PAUSE: lambda job, model, tmp: job.pause(),
    Capability.RESUME: lambda job, model, tmp: job.resume(),
    Capability.GENERATE: lambda job, model, tmp: model.generate(["hi"]),
    Capability.LOSS: lambda job, model, tmp: model.loss([{"prompt": "a", "completion": "b"}]),
    Capability.MERGE: lambda job, model, tmp: model.merge(tmp / "merged"),
    Capability.EXPORT: lambda job, model, tmp: model.export_ollama(tmp / "ollama"),
    Capability.DOWNLOAD: lambda job, model, tmp: model.download(tmp / "weights"),
    Capability.DEPLOY: lambda job, model, tmp: model.deploy(),
    Capability.IMPORT: lambda job, model, tmp: FineTuneJob.import_remote(
        job.spec.provider, job.record.remote_id or "remote-1", store=tmp / "store.db", **_connection(job)),
    Capability.INVENTORY: lambda job, model, tmp: _inventory(job),
}


def _inventory(job: FineTuneJob) -> Any:
    from ftkit.migration import inventory

    return inventory(job.spec.provider, **_connection(job))


def _provider_config(harness: ProviderHarness) -> dict[str, Any]:
    """The connection part of the harness's job arguments (keys, endpoints, retry policy...)."""
    from ftkit.spec import JobSpec

    return {k: v for k, v in harness.job_kwargs().items() if k not in JobSpec.model_fields}


class ProviderHarness:
    """How the conformance suite reaches one provider. Override what differs."""

    #: the provider's registry name
    name: ClassVar[str]
    #: FineTuneJob keyword arguments this provider must refuse before any side effect, or None
    unsupported: ClassVar[dict[str, Any] | None] = None
    #: seconds a test job may take before the suite gives up
    timeout: ClassVar[float] = 300.0
    #: an API key the suite checks never reaches the store, events, reprs or errors (None: no keys)
    secret: ClassVar[str | None] = None
    #: jobs that train for real (seconds each): the whole class is marked ``slow``
    slow: ClassVar[bool] = False

    def rate_limited(self) -> contextlib.AbstractContextManager[None] | None:
        """A context in which the provider answers every request with 429 and a long Retry-After (script it
        on the emulator), or None for a provider that has no rate limits (no credentials, own hardware)."""
        return None

    def setup(self, workdir: Path) -> None:
        """Start servers, build models. Called once per test class, with a private directory."""

    def teardown(self) -> None:
        """Stop what setup started."""

    def job_kwargs(self) -> dict[str, Any]:
        """FineTuneJob keyword arguments (provider, model, credentials, options) for a quick job."""
        raise NotImplementedError

    def slow_job_kwargs(self) -> dict[str, Any]:
        """Arguments for a job that runs long enough to be cancelled mid-way."""
        return self.job_kwargs()

    def pausable_job_kwargs(self) -> dict[str, Any]:
        """Arguments for a job that runs long enough to be paused mid-way and still ends within ``timeout``."""
        return self.slow_job_kwargs()

    def train_data(self) -> list[dict[str, Any]]:
        """The training examples for the quick job (default: a 16-example colour task)."""
        return colour_examples(16)

    def bad_credentials(self) -> dict[str, Any] | None:
        """Keyword overrides that make the provider refuse the credentials, or None if it has none."""
        return None


class EmulatorHarness(ProviderHarness):
    """A harness for a managed provider tested against its loopback emulator (``ftkit.testing._http``):
    starts and stops the server, and scripts the 429 the suite asks for. Subclasses give ``make_server``."""

    server: Any

    def make_server(self) -> Any:
        """The emulator, not yet started (an ``ftkit.testing._http.EmulatorServer``)."""
        raise NotImplementedError

    def setup(self, workdir: Path) -> None:
        self.server = self.make_server().start()

    def teardown(self) -> None:
        self.server.stop()

    @contextlib.contextmanager
    def rate_limited(self) -> Any:
        # Retry-After far beyond the retry policy's ceiling: ftkit gives up at once with RateLimitError
        self.server.faults.add("*", "*", status=429, retry_after=3600, times=None)
        try:
            yield
        finally:
            self.server.faults.clear()


class ProviderConformance:
    """Mix into a test class and set ``harness_class``; every test must pass for every provider."""

    harness_class: ClassVar[type[ProviderHarness]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Select the cases this provider's declarations call for; the others are not collected at all.
        super().__init_subclass__(**kwargs)
        harness = cls.__dict__.get("harness_class")
        if harness is None:
            return
        provider = get_provider(harness.name)
        declared = provider.capabilities
        for name in [n for n in dir(cls) if n.startswith("test_")]:
            needed = getattr(getattr(cls, name), "_ftkit_requires", ())
            if any(c not in declared for c in needed):
                setattr(cls, name, None)
        if not any(c not in declared for c in _VERBS):
            cls.test_undeclared_verbs_are_refused_by_the_guard = None  # type: ignore[assignment]
        if not provider.hosting.needs_deployment:
            cls.test_a_fine_tune_does_not_answer_without_a_deployment = None  # type: ignore[assignment]
        if provider.credential_env is None:
            cls.test_rate_limit_becomes_rate_limit_error = None  # type: ignore[assignment]
        if harness.unsupported is None:
            cls.test_unsupported_setting_is_refused_before_side_effects = None  # type: ignore[assignment]
        if harness.secret is None:
            cls.test_secret_never_reaches_store_events_or_reprs = None  # type: ignore[assignment]
        if harness.bad_credentials is ProviderHarness.bad_credentials:
            cls.test_bad_credentials_are_reported = None  # type: ignore[assignment]
        if harness.slow:
            cls.pytestmark = [*getattr(cls, "pytestmark", []), pytest.mark.slow]

    # -- fixtures -------------------------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def harness(cls, tmp_path_factory: pytest.TempPathFactory):
        harness = cls.harness_class()
        harness.setup(tmp_path_factory.mktemp(f"harness-{harness.name}"))
        try:
            yield harness
        finally:
            harness.teardown()

    @pytest.fixture(scope="class")
    @classmethod
    def store(cls, tmp_path_factory: pytest.TempPathFactory) -> JobStore:
        return JobStore(tmp_path_factory.mktemp("conformance-store") / "jobs.db")

    @pytest.fixture(scope="class")
    @classmethod
    def finished_job(cls, harness: ProviderHarness, store: JobStore) -> tuple[FineTuneJob, TrainedModel]:
        """One job run to success, shared by the tests that inspect a finished job."""
        job = FineTuneJob(train=harness.train_data(), store=store, **harness.job_kwargs())
        job.start()
        model = job.wait(timeout=harness.timeout)
        return job, model

    def make_job(self, harness: ProviderHarness, store: JobStore, **overrides: Any) -> FineTuneJob:
        kwargs = {**harness.job_kwargs(), **overrides}
        kwargs.setdefault("train", harness.train_data())
        return FineTuneJob(store=store, **kwargs)

    # -- registration and checks before any side effect ------------------------------------------------

    def test_registered_under_its_name(self, harness: ProviderHarness) -> None:
        cls = get_provider(harness.name)
        assert cls.name == harness.name
        assert cls.capabilities, "a provider must declare its capabilities"

    def test_unknown_option_is_refused(self, harness: ProviderHarness, store: JobStore) -> None:
        kwargs = harness.job_kwargs()
        options = {**kwargs.pop("options", {}), "no_such_option": 1}
        with pytest.raises(UnsupportedSettingError, match="no_such_option"):
            self.make_job(harness, store, **kwargs, options=options)

    def test_unsupported_setting_is_refused_before_side_effects(self, harness: ProviderHarness, store: JobStore) -> None:
        assert harness.unsupported is not None
        before = len(store.list_jobs(limit=1000))
        with pytest.raises(UnsupportedSettingError):
            self.make_job(harness, store, **harness.unsupported)
        assert len(store.list_jobs(limit=1000)) == before

    def test_bad_data_is_refused_before_anything_starts(self, harness: ProviderHarness, store: JobStore) -> None:
        bad = [*harness.train_data(), {"messages": [{"role": "user", "content": "no answer"}]}, {"foo": 1}]
        job = self.make_job(harness, store, train=bad)
        report = job.validate()
        assert not report.ok and report.errors
        with pytest.raises(DatasetError) as info:
            job.start()
        assert info.value.report.errors
        with pytest.raises(JobStateError):
            job.status()  # nothing was recorded, so there is nothing to follow

    def test_estimate_counts_tokens(self, harness: ProviderHarness, store: JobStore) -> None:
        estimate = self.make_job(harness, store).estimate()
        assert estimate.provider == harness.name
        assert estimate.tokens.examples == len(harness.train_data())
        assert estimate.tokens.total_tokens > estimate.tokens.trained_tokens > 0
        assert estimate.epochs >= 1
        assert estimate.assumptions, "an estimate states what it assumes"

    # -- the lifecycle ------------------------------------------------------------------------------------

    def test_job_succeeds_with_a_model(self, finished_job: tuple[FineTuneJob, TrainedModel]) -> None:
        job, model = finished_job
        status = job.status()
        assert status.state is JobState.SUCCEEDED
        assert status.raw_status, "the provider's own status is kept"
        assert status.finished_at is not None
        assert model.provider == job.spec.provider and model.model_id
        assert model.job_id == job.id

    def test_status_round_trips_through_json(self, finished_job: tuple[FineTuneJob, TrainedModel]) -> None:
        job, model = finished_job
        status = job.status()
        assert JobStatus.model_validate_json(status.model_dump_json()) == status
        assert TrainedModel.model_validate_json(model.model_dump_json()) == model

    def test_events_are_ordered_and_unique(self, finished_job: tuple[FineTuneJob, TrainedModel]) -> None:
        job, _ = finished_job
        events = list(job.events())
        assert events, "a finished job has a log"
        ids = [e.id for e in events]
        assert len(ids) == len(set(ids)), "no event is yielded twice"
        provider_events = [e for e in events if e.type != "ftkit"]
        times = [e.time for e in provider_events]
        assert times == sorted(times), "events come oldest first"
        assert list(job.events()) == events, "a second read gives the same log"

    def test_attach_sees_the_same_job(self, finished_job: tuple[FineTuneJob, TrainedModel], store: JobStore) -> None:
        job, model = finished_job
        again = FineTuneJob.attach(job.id, store=store, **_connection(job))
        assert again.spec == job.spec
        assert again.status() == job.status()
        assert [e.id for e in again.events()] == [e.id for e in job.events()]
        assert again.result().model_id == model.model_id

    def test_attach_by_unique_prefix(self, finished_job: tuple[FineTuneJob, TrainedModel], store: JobStore) -> None:
        job, _ = finished_job
        assert FineTuneJob.attach(job.id[:-2], store=store, **_connection(job)).id == job.id

    @requires(Capability.CANCEL)
    def test_cancel_after_the_end_is_refused(self, finished_job: tuple[FineTuneJob, TrainedModel]) -> None:
        job, _ = finished_job
        with pytest.raises(JobStateError, match="already ended"):
            job.cancel()

    def test_unknown_job_id(self, store: JobStore) -> None:
        with pytest.raises(JobNotFoundError):
            FineTuneJob.attach("ftk-00000000-000000-000000", store=store)

    @requires(Capability.GENERATE)
    def test_generate_answers_each_prompt(self, finished_job: tuple[FineTuneJob, TrainedModel],
                                          store: JobStore) -> None:
        _, model = finished_job
        prompts = ["What colour is snow?", [{"role": "user", "content": "What colour is grass?"}]]
        with serving(model, store=store) as served:  # deploys (and deletes) where the provider needs it
            answers = served.generate(prompts, max_new_tokens=8)
        assert len(answers) == 2
        assert all(isinstance(a.text, str) for a in answers)

    def test_undeclared_verbs_are_refused_by_the_guard(self, finished_job: tuple[FineTuneJob, TrainedModel],
                                                       tmp_path: Path) -> None:
        job, model = finished_job
        declared = get_provider(job.spec.provider).capabilities
        for capability, call in _VERBS.items():
            if capability in declared:
                continue
            with pytest.raises(UnsupportedCapabilityError) as info:
                call(job, model, tmp_path)
            assert info.value.provider == job.spec.provider
        assert not any(tmp_path.iterdir()), "a refused verb writes nothing"

    # -- leaving a provider: jobs made outside ftkit -----------------------------------------------------------

    @requires(Capability.IMPORT)
    def test_import_brings_in_a_job_made_elsewhere_once(self, finished_job: tuple[FineTuneJob, TrainedModel],
                                                         harness: ProviderHarness, tmp_path: Path) -> None:
        job, model = finished_job
        elsewhere = JobStore(tmp_path / "another-store.db")  # a store that never saw the job: made "outside"
        imported = FineTuneJob.import_remote(job.spec.provider, str(job.record.remote_id), store=elsewhere,
                                             **_provider_config(harness))
        assert imported.record.remote_id == job.record.remote_id and imported.id != job.id
        assert imported.spec.model == job.spec.model and imported.spec.method == job.spec.method
        assert imported.status().state is JobState.SUCCEEDED
        assert imported.result().model_id == model.model_id
        assert [e.id for e in imported.events()] == [e.id for e in job.events() if e.type != "ftkit"]
        again = FineTuneJob.import_remote(job.spec.provider, str(job.record.remote_id), store=elsewhere,
                                          **_provider_config(harness))
        assert again.id == imported.id and len(elsewhere.list_jobs()) == 1

    @requires(Capability.INVENTORY)
    def test_inventory_lists_the_job_and_its_model(self, finished_job: tuple[FineTuneJob, TrainedModel],
                                                   harness: ProviderHarness, store: JobStore) -> None:
        from ftkit.migration import inventory

        job, model = finished_job
        items = inventory(job.spec.provider, store=store, **_provider_config(harness))
        listed = next(i for i in items if i.kind == "job" and i.id == job.record.remote_id)
        assert listed.ftkit_job == job.id and listed.fine_tuned_model == model.model_id
        assert listed.files and all(f.exists for f in listed.files)

    # -- deployments -----------------------------------------------------------------------------------------

    def test_a_fine_tune_does_not_answer_without_a_deployment(
        self, finished_job: tuple[FineTuneJob, TrainedModel]
    ) -> None:
        _, model = finished_job
        with pytest.raises(JobStateError, match="deploy"):
            model.generate(["What colour is snow?"])

    @requires(Capability.DEPLOY)
    def test_deploy_serves_then_deletes_and_the_store_knows_throughout(
        self, finished_job: tuple[FineTuneJob, TrainedModel], store: JobStore
    ) -> None:
        _, model = finished_job
        with model.deploy(store=store) as deployment:
            listed = store.get_deployment(deployment.id)
            assert listed.provider == model.provider and listed.model_id == model.model_id
            deployment.wait_ready(poll_interval=0.01, timeout=60)
            assert deployment.state is DeploymentState.READY
            assert [a.text for a in deployment.model.generate(["What colour is snow?"], max_new_tokens=8)]
            again = Deployment.attach(deployment.id, store=store)  # what another process (or the CLI) sees
            assert again.remote_id == deployment.remote_id
        assert deployment.state is DeploymentState.DELETED
        assert store.get_deployment(deployment.id).state == DeploymentState.DELETED.value
        assert deployment.id not in [d.id for d in store.list_deployments(active_only=True)]
        assert deployment.delete().state is DeploymentState.DELETED  # deleting twice is harmless

    @requires(Capability.DEPLOY)
    def test_an_error_inside_the_block_still_deletes_the_deployment(
        self, finished_job: tuple[FineTuneJob, TrainedModel], store: JobStore
    ) -> None:
        _, model = finished_job
        with pytest.raises(KeyboardInterrupt), model.deploy(store=store) as deployment:
            raise KeyboardInterrupt  # Ctrl-C while waiting or generating
        assert store.get_deployment(deployment.id).state == DeploymentState.DELETED.value

    # -- faults ---------------------------------------------------------------------------------------------

    def test_rate_limit_becomes_rate_limit_error(self, harness: ProviderHarness, store: JobStore) -> None:
        context = harness.rate_limited()
        assert context is not None, (
            f"{harness.name} takes credentials, so its harness must script a 429 (ProviderHarness.rate_limited)"
        )
        job = self.make_job(harness, store)
        with context, pytest.raises(RateLimitError) as info:
            job.start()
        assert info.value.status_code == 429

    @requires(Capability.CANCEL)
    def test_cancel_a_running_job(self, harness: ProviderHarness, store: JobStore) -> None:
        job = self.make_job(harness, store, **harness.slow_job_kwargs())
        job.start()
        status = job.cancel()
        assert status.state in (JobState.CANCELLED, JobState.RUNNING, JobState.QUEUED, JobState.PENDING)
        with pytest.raises(JobCancelledError):
            job.wait(timeout=harness.timeout)
        assert job.status().state is JobState.CANCELLED

    @requires(Capability.PAUSE, Capability.RESUME)
    def test_pause_hands_wait_back_and_resume_finishes_the_job(self, harness: ProviderHarness,
                                                               store: JobStore) -> None:
        # a paused job never ends by itself: wait() must return at the first poll that sees it paused
        job = self.make_job(harness, store, **harness.pausable_job_kwargs())
        job.start()
        deadline = time.monotonic() + harness.timeout
        while (state := job.status().state) is not JobState.RUNNING:
            assert not state.is_terminal and time.monotonic() < deadline, f"never ran: {state}"
            time.sleep(0.01)
        assert job.pause().state is JobState.PAUSED
        with pytest.raises(JobPausedError, match="resume"):
            job.wait(timeout=harness.timeout)
        assert job.status().state is JobState.PAUSED
        job.resume()
        assert job.wait(timeout=harness.timeout).model_id
        assert job.status().state is JobState.SUCCEEDED

    def test_bad_credentials_are_reported(self, harness: ProviderHarness, store: JobStore) -> None:
        overrides = harness.bad_credentials()
        assert overrides is not None
        job = self.make_job(harness, store, **overrides)
        with pytest.raises(AuthenticationError) as info:
            job.start()
        for value in overrides.values():
            if isinstance(value, str) and len(value) >= 8:
                assert value not in str(info.value)

    def test_secret_never_reaches_store_events_or_reprs(
        self, harness: ProviderHarness, finished_job: tuple[FineTuneJob, TrainedModel], store: JobStore
    ) -> None:
        assert harness.secret is not None
        job, model = finished_job
        texts = [repr(job), repr(job.provider), repr(model), model.model_dump_json(), job.status().model_dump_json()]
        texts += [e.model_dump_json() for e in job.events()]
        texts.append(json.dumps(job.record.model_dump(mode="json")))
        for text in texts:
            assert harness.secret not in text
        for path in store.path.parent.glob(f"{store.path.name}*"):  # the db and its WAL
            assert harness.secret.encode() not in path.read_bytes()


def _connection(job: FineTuneJob) -> dict[str, Any]:
    """The connection settings of a live job, for attaching in the same test process."""
    provider = job.provider
    conn: dict[str, Any] = {}
    if getattr(provider, "_api_key", None) is not None:
        conn["api_key"] = provider._api_key.get_secret_value()
    if provider.base_url:
        conn["base_url"] = provider.base_url
    return conn
