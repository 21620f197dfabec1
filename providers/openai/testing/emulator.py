"""`openai_server()`: an offline emulator of the OpenAI fine-tuning API that the real ``openai`` client talks to.

It is a real HTTP server on 127.0.0.1 (threads, no network) speaking the wire protocol of the installed
SDK: file upload (multipart), listing, retrieval, content download, the fine-tuning job endpoints
(create, list with metadata filter, retrieve, cancel, pause, resume, events, checkpoints), the model
listing (``GET /v1/models[/{id}]`` with ``shutdown_date``) and chat completions.
Jobs move ``validating_files -> queued -> running -> succeeded`` on a fast clock, log a metrics event
per step, write a result CSV and report ``trained_tokens``. It refuses what the service refuses: an unknown
or misplaced request field (400), a model that is unknown, not fine-tunable or shut down
(:mod:`ftkit.providers.openai.testing._models`), and training data the service rejects after upload (the
job fails with ``invalid_training_file``): rows without ``content``, non-text content, unknown message keys,
examples over the model's per-example token cap (65,536 for gpt-4o-mini). Use it in your own tests::

    from openai import OpenAI
    from ftkit.providers.openai.testing import openai_server

    with openai_server() as server:
        client = OpenAI(api_key=server.api_key, base_url=server.base_url)
        ...                                     # or FineTuneJob(provider="openai", base_url=server.base_url, ...)
        assert len(server.uploads) == 1         # what the emulator saw
        server.faults.add("GET", "/v1/fine_tuning/jobs/{id}", status=429, retry_after=0.05)
        server.fail_next_job("The job failed due to an internal error.")
        server.wind_down = True                 # jobs.create answers 403, as for an org the wind-down blocks

Behaviours the API reference does not document, and what the emulator assumes (each marked where it lives):

* pause (``POST /fine_tuning/jobs/{id}/pause``, in the SDK and the API reference, w3cschool mirror of
  developers.openai.com 2026-11-10): accepted for a ``running`` or ``queued`` job; the job reads ``pausing``
  for :data:`PAUSING_SECONDS` emulated seconds, then ``paused``; its clock stops at the pause. Pausing a
  pausing or paused job, or resuming one that is neither, is a 400 ``invalid_state`` (**assumption**: the
  same answer the service gives a cancel of an ended job). Resume (of a ``pausing`` job too:
  **assumption**, the reference only says "resume a paused job") restarts the clock where it stopped and
  the job reads ``running`` again (**assumption**: the reference names no intermediate status). Both log a
  ``message`` event (**assumption**: wording).
* wind-down (OpenAI deprecations page, notice 2026-05-07; ed-donner/llm_engineering#3258, 2026-05-26):
  ``jobs.create`` answers 403 for an ineligible organisation; the body's wording is an **assumption**
  (user reports say only "permission denied").
* file content: ``GET /files/{id}/content`` serves results and batch files but refuses files uploaded for
  fine-tuning with 400 "Not allowed to download files of purpose: fine-tune" (see ``_files.DOWNLOADABLE`` for the
  source; **assumption** where it rests on user reports). The model listing includes the organisation's
  fine-tunes with their base's ``shutdown_date`` (**assumption**), and :meth:`OpenAIEmulator.retire_model` makes
  one stop answering, as on its shutdown date.
* data rules: the per-example cap and content rules follow the cookbook's format checks
  (``Chat_finetuning_data_prep.ipynb``) and the fine-tuning input schema of the OpenAPI spec; the error
  wording is an **assumption** (the service's own texts vary).
* the schedule (:mod:`ftkit.providers.openai.testing._jobs`): status order ``validating_files -> queued ->
  running -> succeeded`` and the error object on ``failed`` are documented (SDK ``FineTuningJob``); how long
  each stage takes, the event messages, one checkpoint per epoch (**assumption**: the service is said to keep
  only the last few; review-managed.md O14), ``n_epochs="auto"`` resolved by the cookbook's rule and
  ``batch_size="auto"`` as examples // 50 (**assumptions**: OpenAI publishes neither), an "auto"
  ``learning_rate_multiplier`` reported as 1.8 and DPO ``beta`` as 0.1 (**assumptions**, values seen in
  users' job listings), ``trained_tokens`` = tokens x epochs (the cookbook's billing rule), and the result
  CSV's columns (reference notes section 6) are the emulator's own choices.
* tokens are counted with ``o200k_base`` by the cookbook formula (**assumption**: OpenAI calls its count
  approximate and publishes no exact rule); the job's ``suffix`` is not echoed on reads (**assumption**:
  the SDK's ``FineTuningJob`` has no ``suffix`` field).

See :mod:`ftkit.providers.openai.testing._jobs` for how emulated models answer chat completions.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ftkit.providers.openai.testing._files import FilesEndpoints, StoredFile
from ftkit.providers.openai.testing._jobs import (
    BASE_ANSWER,
    AnswerBook,
    Plan,
    Timing,
    check_training_data,
    metrics_csv,
    plan_job,
)
from ftkit.providers.openai.testing._models import MODELS, EmulatedModel, find_model
from ftkit.providers.openai.testing._schema import check_chat_request, check_job_request, invalid
from ftkit.providers.openai.testing._wire import chat_completion, page, redact

from ftkit.testing._http import EmulatorServer, HTTPError, Request

__all__ = ["BASE_ANSWER", "OpenAIEmulator", "openai_server"]

_TERMINAL = ("succeeded", "failed", "cancelled")
#: emulated seconds a paused job reads "pausing" before "paused" (an assumption, see the module docstring)
PAUSING_SECONDS = 2.0


@dataclass
class _Job:
    obj: dict[str, Any]  # the fields that do not change with time
    created: float  # emulated unix time
    plan: Plan
    tokens: int
    book: AnswerBook
    cancelled_at: float | None = None
    results_file: str | None = None
    event_ids: list[str] = field(default_factory=list)
    pauses: list[list[Any]] = field(default_factory=list)  # [paused at, resumed at or None], emulated times

    @property
    def paused_at(self) -> float | None:
        """When the pause in force began (None: not paused)."""
        return self.pauses[-1][0] if self.pauses and self.pauses[-1][1] is None else None

    def elapsed_at(self, now: float) -> float:
        """The job's own clock: emulated seconds since creation, minus the time it spent paused."""
        paused = sum(min(end if end is not None else now, now) - start for start, end in self.pauses if start <= now)
        return now - self.created - paused

    def happened_at(self, offset: float) -> float:
        """The emulated time at which the planned entry at ``offset`` (on the job's own clock) happened."""
        when = self.created + offset
        for start, end in self.pauses:
            if start <= when:
                when += (end if end is not None else float("inf")) - start
        return when


class OpenAIEmulator(FilesEndpoints, EmulatorServer):
    """The emulator behind :func:`openai_server`. ``base_url`` ends in ``/v1``; use ``api_key`` as the key."""

    def __init__(
        self,
        *,
        api_key: str = "sk-ftkit-emulator-key",
        organization: str = "ftkit-emulator",
        time_scale: float = 100.0,
        timing: Timing | None = None,
    ):
        super().__init__(time_scale=time_scale)
        self.api_key = api_key
        self.organization = organization
        self.timing = timing or Timing()
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, _Job] = {}
        self._models: dict[str, AnswerBook] = {}
        self._scripted: list[dict[str, Any]] = []
        #: when True, jobs.create answers 403 as it does for an organisation OpenAI's wind-down blocks
        self.wind_down = False
        self._register_routes()

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- what tests inspect -----------------------------------------------------------------------------

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """Every file upload that reached the server (``file_id, filename, purpose, bytes, sha256``)."""
        return self.recorded("upload")

    @property
    def jobs_created(self) -> list[dict[str, Any]]:
        """Every job created (``job_id`` and the request ``body``)."""
        return self.recorded("job_created")

    def job(self, job_id: str) -> dict[str, Any]:
        """The job as ``GET /fine_tuning/jobs/{id}`` would return it now."""
        with self.lock:
            return self._job_view(self._get_job(job_id))

    # -- scripting ---------------------------------------------------------------------------------------

    def fail_next_job(self, message: str, *, code: str = "server_error", step: int | None = None,
                      param: str | None = None) -> None:
        """The next job created fails while running (at ``step``, default half-way) with this error."""
        with self.lock:
            self._scripted.append({"at": "running", "message": message, "code": code, "step": step, "param": param})

    def reject_next_file(self, message: str = "Invalid file format. Example 1 is missing an assistant message.",
                         *, param: str = "training_file") -> None:
        """The next job created fails file validation with ``invalid_training_file`` and this message."""
        with self.lock:
            code = "invalid_training_file" if param == "training_file" else "invalid_validation_file"
            self._scripted.append({"at": "validation", "message": message, "code": code, "param": param})

    # -- hooks ---------------------------------------------------------------------------------------------

    def error_body(self, status: int, message: str, **details: Any) -> Any:
        default_type = {401: "invalid_request_error", 404: "invalid_request_error", 429: "requests"}.get(
            status, "server_error" if status >= 500 else "invalid_request_error")
        return {"error": {"message": message, "type": details.get("type", default_type),
                          "param": details.get("param"), "code": details.get("code")}}

    def not_found(self, request: Request) -> HTTPError:
        return HTTPError(404, f"Invalid URL ({request.method} {request.path})")

    # -- routes --------------------------------------------------------------------------------------------

    def _register_routes(self) -> None:
        routes = [
            ("POST", "/v1/files", self._create_file),
            ("GET", "/v1/files", self._list_files),
            ("GET", "/v1/files/{file_id}", self._retrieve_file),
            ("DELETE", "/v1/files/{file_id}", self._delete_file),
            ("GET", "/v1/files/{file_id}/content", self._file_content),
            ("POST", "/v1/fine_tuning/jobs", self._create_job),
            ("GET", "/v1/fine_tuning/jobs", self._list_jobs),
            ("GET", "/v1/fine_tuning/jobs/{job_id}", self._retrieve_job),
            ("POST", "/v1/fine_tuning/jobs/{job_id}/cancel", self._cancel_job),
            ("POST", "/v1/fine_tuning/jobs/{job_id}/pause", self._pause_job),
            ("POST", "/v1/fine_tuning/jobs/{job_id}/resume", self._resume_job),
            ("GET", "/v1/models", self._list_models),
            ("GET", "/v1/models/{model}", self._retrieve_model),
            ("GET", "/v1/fine_tuning/jobs/{job_id}/events", self._list_events),
            ("GET", "/v1/fine_tuning/jobs/{job_id}/checkpoints", self._list_checkpoints),
            ("POST", "/v1/chat/completions", self._chat_completion),
        ]
        for method, pattern, handler in routes:
            self.route(method, pattern)(self._authenticated(handler))

    def _authenticated(self, handler: Any) -> Any:
        def wrapper(request: Request) -> Any:
            header = request.headers.get("authorization", "")
            key = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
            if not key:
                raise HTTPError(401, "You didn't provide an API key. You need to provide your API key in an "
                                     "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
            if not secrets.compare_digest(key, self.api_key):
                raise HTTPError(401, f"Incorrect API key provided: {redact(key)}. You can find your API key at "
                                     "https://platform.openai.com/account/api-keys.", code="invalid_api_key")
            with self.lock:
                return handler(request)

        return wrapper

    # -- jobs ----------------------------------------------------------------------------------------------------

    def _create_job(self, request: Request) -> Any:
        body = check_job_request(request.json())
        if self.wind_down:
            raise HTTPError(403, "You do not have access to create fine-tuning jobs: OpenAI is winding down "
                                 "self-serve fine-tuning for this organization.", code="permission_denied")
        method = (body.get("method") or {}).get("type", "supervised")
        base = self._fine_tunable(body["model"], method)
        training = self._fine_tune_file(body["training_file"], "training_file")
        validation = None
        if body.get("validation_file"):
            validation = self._fine_tune_file(body["validation_file"], "validation_file")
        hyper = dict(((body.get("method") or {}).get(method) or {}).get("hyperparameters")
                     or body.get("hyperparameters") or {})
        job_id = f"ftjob-{secrets.token_hex(12)}"
        cap = base.example_cap if base else None
        data = check_training_data(training.content, method, cap=cap)
        valid_data = check_training_data(validation.content, method, "validation_file", cap=cap) if validation else None
        failure = self._scripted.pop(0) if self._scripted else None
        plan = plan_job(job_id=job_id, training_file=body["training_file"], data=data, validation=valid_data,
                        hyperparameters=hyper, timing=self.timing, failure=failure)
        resolved = {"n_epochs": plan.epochs or hyper.get("n_epochs", "auto"),
                    "batch_size": plan.batch_size or hyper.get("batch_size", "auto"),
                    "learning_rate_multiplier": hyper.get("learning_rate_multiplier", "auto")}
        if resolved["learning_rate_multiplier"] == "auto" and plan.epochs:
            resolved["learning_rate_multiplier"] = 1.8
        method_hyper = dict(resolved)
        if method == "dpo":
            method_hyper["beta"] = hyper.get("beta", 0.1 if plan.epochs else "auto")
        integrations = [
            {"type": "wandb", "wandb": {"entity": None, "name": None, "tags": None, **i["wandb"]}}
            for i in body.get("integrations") or []
        ]
        obj = {
            "id": job_id, "object": "fine_tuning.job", "model": body["model"],
            "organization_id": f"org-{self.organization}", "training_file": body["training_file"],
            "validation_file": body.get("validation_file"), "suffix": body.get("suffix"),
            "seed": body["seed"] if body.get("seed") is not None else int(hashlib.sha256(job_id.encode())
                                                                              .hexdigest()[:7], 16),
            "hyperparameters": resolved if method == "supervised" else {"n_epochs": None, "batch_size": None,
                                                                       "learning_rate_multiplier": None},
            "method": {"type": method, method: {"hyperparameters": method_hyper}},
            "integrations": integrations or None, "metadata": body.get("metadata"),
        }
        self.jobs[job_id] = _Job(obj, self.clock.now(), plan, data.tokens, AnswerBook(data.pairs))
        self.record("job_created", job_id=job_id, body=body)
        return self._job_view(self.jobs[job_id])

    def _fine_tunable(self, model: str, method: str) -> EmulatedModel | None:
        """The base model of a create, refused as the service refuses it (see ``_models``); None for a
        fine-tune of this emulator used as the base (continued training)."""
        if model.startswith("ft:"):
            for job in self.jobs.values():
                self._job_view(job)
            if model in self._models:
                return find_model(model.split(":")[1])
        found = find_model(model)
        today = datetime.fromtimestamp(self.clock.now(), timezone.utc).date()
        if found is None or not found.fine_tunable or found.shut_down(today):
            raise invalid(f"Model {model} is not available for fine-tuning or does not exist.", "model",
                          "model_not_available")
        if method not in found.methods:
            raise invalid(f"Model {model} does not support the {method!r} fine-tuning method.", "method",
                          "invalid_method")
        return found

    def _fine_tune_file(self, file_id: str, param: str) -> StoredFile:
        found = self.files.get(file_id)
        if found is None:
            raise invalid(f"Invalid file id: {file_id!r} does not exist.", param, "invalid_file_id")
        if found.obj["purpose"] != "fine-tune":
            raise invalid(f"File {file_id} has purpose {found.obj['purpose']!r}, expected 'fine-tune'.", param)
        return found

    def _get_job(self, job_id: str) -> _Job:
        found = self.jobs.get(job_id)
        if found is None:
            raise HTTPError(404, f"Could not find fine tune: {job_id}", param="fine_tune_id",
                            code="fine_tune_not_found")
        return found

    def _visible(self, job: _Job) -> list[tuple[float, Any]]:
        """The planned entries that have happened by now on the job's own clock (which stops while it is
        paused), with the emulated times they happened at."""
        now = self.clock.now()
        stop = min(now, job.cancelled_at) if job.cancelled_at is not None else now
        elapsed = job.elapsed_at(stop)
        return [(job.happened_at(e.offset), e) for e in job.plan.entries if e.offset <= elapsed]

    def _job_view(self, job: _Job) -> dict[str, Any]:
        visible = self._visible(job)
        status, error, finished = "validating_files", None, None
        for when, entry in visible:
            if entry.status:
                status = entry.status
                error = entry.error
                finished = when if status in _TERMINAL else None
        if job.cancelled_at is not None and status not in _TERMINAL:
            status, finished = "cancelled", job.cancelled_at
        elif job.paused_at is not None and status not in _TERMINAL:
            status = "pausing" if self.clock.now() - job.paused_at < PAUSING_SECONDS else "paused"
        view = dict(job.obj)
        ft_model = None
        if status == "succeeded":
            ft_model = self._finish(job, finished)
        last = job.created + job.plan.entries[-1].offset
        view.update({
            "status": status, "created_at": int(job.created),
            "finished_at": int(finished) if finished is not None else None,
            "fine_tuned_model": ft_model,
            "error": error,
            "result_files": [job.results_file] if job.results_file else [],
            "trained_tokens": job.tokens * job.plan.epochs if status == "succeeded" else None,
            "estimated_finish": int(job.happened_at(last - job.created)) if status == "running" else None,
        })
        view.pop("suffix", None)
        return view

    def _model_name(self, job: _Job) -> str:
        short = hashlib.sha256(job.obj["id"].encode()).hexdigest()[:8]
        return f"ft:{job.obj['model']}:{self.organization}:{job.obj.get('suffix') or ''}:{short}"

    def _finish(self, job: _Job, finished: float | None) -> str:
        """Make the succeeded job's model and result file exist (once)."""
        name = self._model_name(job)
        if job.results_file is None:
            obj = self._add_file("step_metrics.csv", "fine-tune-results", metrics_csv(job.plan).encode(), finished)
            job.results_file = obj["id"]
            self._models[name] = job.book
        return name

    def _list_jobs(self, request: Request) -> Any:
        wanted = {k[len("metadata["):-1]: v[0] for k, v in request.query.items()
                  if k.startswith("metadata[") and k.endswith("]")}
        jobs = sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)
        views = [self._job_view(j) for j in jobs
                 if all((j.obj.get("metadata") or {}).get(k) == v for k, v in wanted.items())]
        return page(views, request, default_limit=20)

    def _retrieve_job(self, request: Request) -> Any:
        return self._job_view(self._get_job(request.params["job_id"]))

    def _cancel_job(self, request: Request) -> Any:
        if request.body and request.json():
            raise invalid(f"Unrecognized request argument supplied: {next(iter(request.json()))}")
        job = self._get_job(request.params["job_id"])
        status = self._job_view(job)["status"]
        if status in _TERMINAL:
            raise invalid(f"Job has already completed with status '{status}' and cannot be cancelled.",
                          code="invalid_state")
        job.cancelled_at = self.clock.now()
        self.record("cancel", job_id=job.obj["id"])
        return self._job_view(job)

    def _pause_job(self, request: Request) -> Any:
        job = self._get_job(request.params["job_id"])
        status = self._job_view(job)["status"]
        if status not in ("running", "queued"):
            raise invalid(f"Job is {status} and cannot be paused.", code="invalid_state")
        job.pauses.append([self.clock.now(), None])
        self.record("pause", job_id=job.obj["id"])
        return self._job_view(job)

    def _resume_job(self, request: Request) -> Any:
        job = self._get_job(request.params["job_id"])
        status = self._job_view(job)["status"]
        if status not in ("pausing", "paused") or job.paused_at is None:
            raise invalid(f"Job is {status} and cannot be resumed.", code="invalid_state")
        job.pauses[-1][1] = self.clock.now()
        self.record("resume", job_id=job.obj["id"])
        return self._job_view(job)

    def _list_models(self, request: Request) -> Any:
        # the organisation's fine-tunes are listed with the base models (``client.models.list()`` shows them);
        # a fine-tune's shutdown_date is its base's (**assumption**: the deprecations page says fine-tunes stop
        # answering when their base shuts down; the listing's exact value for them is not documented)
        for job in self.jobs.values():
            self._job_view(job)
        fine_tunes = [self._fine_tune_view(name) for name in self._models if ":ckpt-step-" not in name]
        return {"object": "list", "data": [m.view() for m in MODELS.values()] + fine_tunes}

    def _fine_tune_view(self, name: str) -> dict[str, Any]:
        base = find_model(name.split(":")[1])
        return {"id": name, "object": "model", "created": int(self.clock.now()),
                "owned_by": f"org-{self.organization}", "shutdown_date": base.shutdown_date if base else None}

    def retire_model(self, name: str) -> None:
        """The fine-tuned model ``name`` stops answering, as on its shutdown date: chat and the model listing
        answer 404 ``model_not_found`` (**assumption**: the answer the API gives any model it does not serve)."""
        with self.lock:
            for job in self.jobs.values():
                self._job_view(job)
            self._models.pop(name, None)

    def _retrieve_model(self, request: Request) -> Any:
        model = request.params["model"]
        found = find_model(model)
        if found is None and model.startswith("ft:"):
            for job in self.jobs.values():
                self._job_view(job)
            if model in self._models:
                return self._fine_tune_view(model)
        if found is None:
            raise HTTPError(404, f"The model '{model}' does not exist", param="model", code="model_not_found")
        return found.view()

    def _events(self, job: _Job) -> list[dict[str, Any]]:
        """Every visible event, oldest first, with stable ids."""
        # ids come from what an event is, not where it falls, so a pause never renumbers later events
        happened = [(when, f"plan:{index}", e.event) for index, (when, e) in enumerate(self._visible(job)) if e.event]
        for number, (start, end) in enumerate(job.pauses):
            happened.append((start, f"pause:{number}", _message("Fine-tuning job paused")))
            if end is not None:
                happened.append((end, f"resume:{number}", _message("Fine-tuning job resumed")))
        happened.sort(key=lambda item: item[0])
        if job.cancelled_at is not None and self._job_view(job)["status"] == "cancelled":
            happened.append((job.cancelled_at, "cancel", _message("Fine-tuning job cancelled")))
        events = []
        for when, key, event in happened:
            digest = hashlib.sha256(f"{job.obj['id']}:{key}".encode()).hexdigest()[:24]
            events.append({"id": f"ftevent-{digest}", "object": "fine_tuning.job.event",
                           "created_at": int(when), **event})
        return events

    def _list_events(self, request: Request) -> Any:
        job = self._get_job(request.params["job_id"])
        return page(list(reversed(self._events(job))), request, default_limit=20, plain=True)

    def _list_checkpoints(self, request: Request) -> Any:
        job = self._get_job(request.params["job_id"])
        model = self._model_name(job)
        checkpoints = []
        for when, entry in self._visible(job):
            if entry.checkpoint is None:
                continue
            step = entry.checkpoint
            metrics = {"step": float(step), **job.plan.metrics[step - 1]}
            digest = hashlib.sha256(f"{job.obj['id']}:ckpt:{step}".encode()).hexdigest()[:24]
            checkpoints.append({
                "id": f"ftckpt_{digest}", "object": "fine_tuning.job.checkpoint", "created_at": int(when),
                "fine_tuned_model_checkpoint": f"{model}:ckpt-step-{step}", "fine_tuning_job_id": job.obj["id"],
                "step_number": step, "metrics": metrics,
            })
            self._models[f"{model}:ckpt-step-{step}"] = job.book
        return page(list(reversed(checkpoints)), request, default_limit=10)

    # -- chat completions -------------------------------------------------------------------------------------------

    def _chat_completion(self, request: Request) -> Any:
        started = time.monotonic()
        body = check_chat_request(request.json())
        model = body["model"]
        if model.startswith("ft:"):
            for job in self.jobs.values():  # a model appears once its job is seen to succeed
                self._job_view(job)
            book = self._models.get(model)
            if book is None:
                raise HTTPError(404, f"The model `{model}` does not exist or you do not have access to it.",
                                code="model_not_found")
        else:
            found = find_model(model)
            if found is None:
                raise HTTPError(404, f"The model `{model}` does not exist or you do not have access to it.",
                                code="model_not_found")
            if not found.chat:
                raise HTTPError(404, "This is not a chat model and thus not supported in the "
                                     "v1/chat/completions endpoint. Did you mean to use v1/completions?")
            book = AnswerBook([])
        completion = chat_completion(body, book)
        self.record("completion", model=model, messages=body["messages"],
                    answer=completion["choices"][0]["message"]["content"],
                    seconds=round(time.monotonic() - started, 6))
        return completion


def _message(text: str) -> dict[str, Any]:
    return {"level": "info", "message": text, "type": "message", "data": None}


@contextlib.contextmanager
def openai_server(**options: Any) -> Iterator[OpenAIEmulator]:
    """Run an :class:`OpenAIEmulator` for the duration of the block.

    Options: ``api_key`` (the one key it accepts), ``organization`` (appears in ``ft:`` model ids),
    ``time_scale`` (emulated seconds per wall second, default 100), ``timing``
    (:class:`ftkit.providers.openai.testing._jobs.Timing`: seconds spent validating, queued, per step).
    """
    server = OpenAIEmulator(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
