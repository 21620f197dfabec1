"""`together_server()`: an offline Together AI emulator the real ``together`` SDK talks to unmodified.

It serves, on 127.0.0.1, what ftkit's Together provider (and the SDK's own flows) use: the three-step
file upload (POST ``/v1/files`` -> 302 to a signed URL, PUT of the bytes, POST ``.../preprocess``)
with checksum dedup (409) and server-side validation, the fine-tune endpoints (model limits, price
estimate, create, list, retrieve, cancel, events, checkpoints, weights download as ``.tar.zst``) and
chat completions. Jobs run pending -> queued -> running -> compressing -> uploading -> completed on a
fast clock and report ``token_count`` and ``total_price`` (nano-dollars).

>>> from ftkit.providers.together.testing import together_server
>>> with together_server() as server:                                              # doctest: +SKIP
...     job = FineTuneJob(provider="together", model="Qwen/Qwen3-8B", train=rows,
...                       api_key=server.api_key, base_url=server.base_url)
...     job.start(); model = job.wait()
...     assert len(server.uploads) == 1 and len(server.created_jobs) == 1

Scripting: ``server.faults.add("POST", "/v1/fine-tunes", status=500, process=True)`` (see
:mod:`ftkit.testing._http`), ``server.fail_next_job("user_error", "...")``,
``server.reject_next_file("...")``.

A fine-tune answers chat only through a ready dedicated deployment, as on Together: the endpoint's
project-qualified name (through its traffic split) or the deployment's own name; the job's output name is
refused with a 404. Projects, configs, hardware, endpoints and deployments are in ``_endpoints.py`` /
``_serving.py``; ``server.running_deployments`` is the emulator's own record of what would be billed.
Training metrics are served at ``GET /v1/fine-tunes/{id}/metrics`` in the documented shape, and event text
carries no numbers. Prices and per-model limits come from ftkit's Together catalog (see ``_wire.py``).

Chat completions answer deterministically. A deployed fine-tune answers a prompt it was trained on (same
last user message, ignoring case and spacing; or, failing that, the most similar trained prompt with word
overlap >= 0.5) with the trained answer. Anything else, and every base model, gets ``"I am not sure; it
could be <last words of the prompt>."``, which never equals a trained label: evaluations see a fine-tune beat
its base model.

ASSUMPTIONS, each not documented by Together: every fine-tunable base of the emulator's catalog also
answers serverless chat by its name (on Together only some do); ``estimated_train_token_count`` counts all
epochs (the quote's price is that count times the rate) and ``estimated_eval_token_count`` all evaluations;
``allowed_to_proceed`` is false exactly when the quote exceeds ``user_limit`` (``credit_limit_usd=``, default
$1000); a failed job bills nothing (docs: cancelled jobs pay for the work done; failed jobs are not covered).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ftkit.providers.together.testing._chat import chat_completion
from ftkit.providers.together.testing._data import answer_memory
from ftkit.providers.together.testing._endpoints import Projects
from ftkit.providers.together.testing._files import EmulatedFile
from ftkit.providers.together.testing._jobs import EmulatedJob, JobFailure
from ftkit.providers.together.testing._serving import DedicatedInference
from ftkit.providers.together.testing._uploads import FileRoutes
from ftkit.providers.together.testing._weights import tar_zst, weights_files
from ftkit.providers.together.testing._wire import (
    CATALOG,
    ModelSpec,
    bad_request,
    check_chat,
    check_create,
    check_estimate,
    check_values,
    limits_body,
    price_per_m,
)

from ftkit.testing._http import EmulatorServer, HTTPError, Request, Response

__all__ = ["ModelSpec", "TogetherServer", "together_server"]

_ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                409: "invalid_request_error", 429: "rate_limit_exceeded", 500: "server_error", 503: "server_error"}  # fmt: skip
_TERMINAL = ("completed", "cancelled", "error", "user_error")


class TogetherServer(FileRoutes, DedicatedInference, EmulatorServer):
    """The emulator. ``base_url`` (no ``/v1``) and ``api_key`` are what a client needs.

    Options: ``time_scale`` (emulated seconds per wall second), ``step_seconds`` (emulated time per
    training step), ``processing_seconds`` (file validation time), ``models`` (extra fine-tunable
    model names or :class:`ModelSpec` objects), ``api_key``, ``user`` (also the project's slug),
    ``deploy_seconds`` (emulated time a deployment provisions), ``credit_limit_usd`` (the quote's ``user_limit``).
    """

    def __init__(
        self,
        *,
        api_key: str = "tg-emulator-0123456789abcdef",
        time_scale: float = 120.0,
        step_seconds: float = 2.0,
        processing_seconds: float = 2.0,
        models: Iterable[str | ModelSpec] = (),
        user: str = "ftkit-tester",
        deploy_seconds: float = 20.0,
        credit_limit_usd: float = 1000.0,
    ):
        super().__init__(time_scale=time_scale)
        self.api_key = api_key
        self.user = user
        self.step_seconds = step_seconds
        self.processing_seconds = processing_seconds
        self.catalog: dict[str, ModelSpec] = dict(CATALOG)
        for model in models:
            spec = model if isinstance(model, ModelSpec) else ModelSpec(str(model), 0.5, default_rank=8)
            self.catalog[spec.name] = spec
        self.files: dict[str, EmulatedFile] = {}
        self.jobs: dict[str, EmulatedJob] = {}
        self._failures: list[JobFailure] = []
        self._rejections: list[str] = []
        self._cuts: list[float] = []
        self.credit_limit_usd = credit_limit_usd
        self.projects = Projects(project_id=f"proj_{hashlib.sha256(user.encode()).hexdigest()[:16]}", slug=user,
                                 deploy_seconds=deploy_seconds)
        self._register_routes()
        self._register_serving_routes()

    # -- what tests and users read ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Pass as ``base_url=`` (or ``TOGETHER_BASE_URL``); the SDK adds ``/v1`` itself."""
        return self.url

    @property
    def uploads(self) -> list[dict[str, Any]]:
        """Every file whose bytes were stored (one entry per real upload of content)."""
        return self.recorded("upload")

    @property
    def created_jobs(self) -> list[dict[str, Any]]:
        """Every fine-tuning job created (``POST /v1/fine-tunes`` that succeeded server-side)."""
        return self.recorded("job_created")

    def fail_next_job(self, status: str = "error", message: str | None = None, *, at_fraction: float = 0.5) -> None:
        """The next job created fails mid-training with ``status`` ``"error"`` or ``"user_error"``."""
        if status not in ("error", "user_error"):
            raise ValueError("status must be 'error' or 'user_error'")
        default = JobFailure().message if status == "error" else (
            "The job failed: the training data produced no trainable tokens (check train_on_inputs and masking)."
        )
        with self.lock:
            self._failures.append(JobFailure(status, message or default, at_fraction))

    def reject_next_file(self, message: str = "Invalid format on line 1: missing 'messages'.") -> None:
        """The next uploaded file fails Together's validation (``INVALID_FORMAT``) with ``message``."""
        with self.lock:
            self._rejections.append(message)

    def cut_next_download(self, fraction: float = 0.5) -> None:
        """The next weights download stops after ``fraction`` of the archive, as a dropped transfer leaves a
        client (a test device: the bytes come with a ``Content-Range`` naming the whole size)."""
        with self.lock:
            self._cuts.append(fraction)

    def error_body(self, status: int, message: str, **details: Any) -> Any:
        return {"error": {"message": message, "type": details.pop("type", _ERROR_TYPES.get(status, "api_error")),
                          "param": details.pop("param", None), "code": details.pop("code", None), **details}}  # fmt: skip

    def not_found(self, request: Request) -> HTTPError:
        return HTTPError(404, f"Unknown request URL: {request.method} {request.path}.", code="unknown_url")

    # -- routing ----------------------------------------------------------------------------------------------

    def _api(self, method: str, pattern: str, handler: Any) -> None:
        def authorised(request: Request) -> Any:
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                raise HTTPError(
                    401,
                    "Invalid API key provided. You can find your API key at https://api.together.ai/settings/api-keys.",
                    code="invalid_api_key",
                )
            return handler(request)

        self.route(method, pattern)(authorised)

    def _register_routes(self) -> None:
        api = self._api
        api("POST", "/v1/files", self._start_upload)
        self.route("PUT", "/_storage/{file_id}")(self._receive_bytes)  # a signed URL: no Authorization
        api("POST", "/v1/files/{file_id}/preprocess", self._preprocess)
        api("GET", "/v1/files", lambda r: {"object": "list", "data": [f.view(self.clock.now()) for f in self._live_files()]})
        api("GET", "/v1/files/{file_id}", lambda r: self._file(r.params["file_id"]).view(self.clock.now()))
        api("DELETE", "/v1/files/{file_id}", self._delete_file)
        api("GET", "/v1/files/{file_id}/content", lambda r: Response(self._file(r.params["file_id"]).content or b""))
        api("GET", "/v1/fine-tunes/models/limits", self._limits)
        api("POST", "/v1/fine-tunes/estimate-price", self._estimate)
        api("POST", "/v1/fine-tunes", self._create)
        api("GET", "/v1/fine-tunes", self._list_jobs)
        api("GET", "/v1/fine-tunes/{job_id}", lambda r: self._job(r).view(self.clock.now()))
        api("POST", "/v1/fine-tunes/{job_id}/cancel", self._cancel)
        api("GET", "/v1/fine-tunes/{job_id}/events", lambda r: {"data": self._job(r).visible_events(self.clock.now())})
        api("GET", "/v1/fine-tunes/{job_id}/checkpoints",
            lambda r: {"data": self._job(r).visible_checkpoints(self.clock.now())})  # fmt: skip
        api("GET", "/v1/finetune/download", self._download)
        api("POST", "/v1/chat/completions", self._chat)

    # -- fine-tuning ------------------------------------------------------------------------------------------

    def _model(self, name: str | None, *, status: int = 404) -> ModelSpec:
        spec = self.catalog.get(name or "")
        if spec is None:
            raise HTTPError(status, f"Model {name!r} is not available for fine-tuning. "
                            "See https://docs.together.ai/docs/fine-tuning-models", code="model_not_available")  # fmt: skip
        return spec

    def _limits(self, request: Request) -> dict[str, Any]:
        unknown = sorted(set(request.query) - {"model_name"})
        if unknown:
            raise bad_request(f"Unknown query parameter {unknown[0]!r}", unknown[0])
        name = request.arg("model_name") or ""
        if name.startswith("ft-") or name.startswith(f"{self.user}/"):
            # the SDK asks with from_checkpoint's job (id or output name) for a continuation
            name = self._parent(name).base_model
        return limits_body(self._model(name))

    def _ready_file(self, file_id: str, what: str) -> EmulatedFile:
        with self.lock:
            file = self.files.get(file_id)
        if file is None or file.deleted:
            raise bad_request(f"{what} {file_id!r} does not exist", what)
        status, _ = file.processing(self.clock.now())
        if status != "COMPLETED":
            raise bad_request(f"{what} {file_id!r} is not ready for fine-tuning (processing_status={status})", what)
        return file

    def _estimate(self, request: Request) -> dict[str, Any]:
        body = check_estimate(request.json())
        with self.lock:
            train = self.files.get(body["training_file"])
        if train is None or train.deleted:
            raise bad_request(f"training_file {body['training_file']!r} does not exist", "training_file")
        status, _ = train.processing(self.clock.now())
        if status == "INVALID_FORMAT":
            return {"estimation_available": False, "unavailable_reason": "train_file_invalid"}
        if status != "COMPLETED":
            return {"estimation_available": False, "unavailable_reason": "train_file_not_validated"}
        model = self._model(body.get("model") or self._checkpoint_model(body.get("from_checkpoint")), status=400)
        method = (body.get("training_method") or {}).get("method", "sft")
        lora = (body.get("training_type") or {"type": "Lora"}).get("type") == "Lora"
        assert train.summary is not None
        tokens = train.summary.tokens * int(body.get("n_epochs") or 1)
        eval_tokens = 0
        if body.get("validation_file"):
            with self.lock:
                validation = self.files.get(body["validation_file"])
            if validation is None or validation.deleted:
                raise bad_request(f"validation_file {body['validation_file']!r} does not exist", "validation_file")
            v_status, _ = validation.processing(self.clock.now())
            if v_status != "COMPLETED":
                reason = "eval_file_invalid" if v_status == "INVALID_FORMAT" else "eval_file_not_validated"
                return {"estimation_available": False, "unavailable_reason": reason}
            eval_tokens = (validation.summary.tokens if validation.summary else 0) * int(body.get("n_evals") or 0)
        price = round((tokens + eval_tokens) * price_per_m(model, method=method, lora=lora) / 1e6, 6)
        return {
            "estimation_available": True,
            "estimated_total_price": price,
            "estimated_train_token_count": tokens,
            "estimated_eval_token_count": eval_tokens,
            "user_limit": self.credit_limit_usd,
            "allowed_to_proceed": price <= self.credit_limit_usd,
        }

    def _parent(self, checkpoint: str) -> EmulatedJob:
        ref = checkpoint.split(":")[0]
        with self.lock:
            for job in self.jobs.values():
                if ref in (job.id, job.output_name):
                    return job
        raise bad_request(f"from_checkpoint {checkpoint!r} does not name a job of this account", "from_checkpoint")

    def _checkpoint_model(self, checkpoint: str | None) -> str | None:
        if not checkpoint:
            return None
        ref = checkpoint.split(":")[0]
        with self.lock:
            for job in self.jobs.values():
                if ref in (job.id, job.output_name):
                    return job.request.get("model")
        raise bad_request(f"from_checkpoint {checkpoint!r} does not name a job of this account", "from_checkpoint")

    def _create(self, request: Request) -> dict[str, Any]:
        body = check_create(request.json())
        model_name = body.get("model") or self._checkpoint_model(body.get("from_checkpoint"))
        model = self._model(model_name, status=400)
        limits = limits_body(model)
        train = self._ready_file(body["training_file"], "training_file")
        validation = self._ready_file(body["validation_file"], "validation_file") if body.get("validation_file") else None
        method = (body.get("training_method") or {}).get("method", "sft")
        if body.get("from_checkpoint") and body.get("training_type") is None:
            # no training_type on a continuation: the parent's is inherited (SDK docstring of `lora`)
            body = {**body, "training_type": self._parent(body["from_checkpoint"]).request.get("training_type")}
        lora = (body.get("training_type") or {"type": "Lora"}).get("type") == "Lora"
        check_values(body, limits, method=method, lora=lora)
        assert train.summary is not None
        if (train.summary.dataset_format == "PREFERENCE") != (method == "dpo"):
            raise bad_request(
                f"training_method {method!r} does not match the training file's format "
                f"({train.summary.dataset_format.lower()})", "training_method",
            )  # fmt: skip
        with self.lock:
            job_id = f"ft-{uuid.uuid4()}"
            tag = f"-{body['suffix']}" if body.get("suffix") else ""
            job = EmulatedJob(
                id=job_id,
                request={**body, "_training_file_bytes": len(train.content or b""), "_base_model": model.name},
                created=self.clock.now(),
                user_id=f"user-{self.user}",
                limits=limits,
                params_b=model.params_b,
                price_per_m_usd=price_per_m(model, method=method, lora=lora),
                train_lines=train.summary.lines,
                train_tokens=train.summary.tokens,
                validation_tokens=validation.summary.tokens if validation and validation.summary else 0,
                output_name=f"{self.user}/{model.name.split('/')[-1]}{tag}-{job_id[3:11]}",
                step_seconds=self.step_seconds,
                failure=self._failures.pop(0) if self._failures else None,
            )
            self.jobs[job_id] = job
            self.record("job_created", job_id=job_id, suffix=body.get("suffix"), training_file=body["training_file"],
                        model=model.name, request={k: v for k, v in body.items() if k != "wandb_key"})  # fmt: skip
            return job.view(self.clock.now())

    def _list_jobs(self, request: Request) -> dict[str, Any]:
        now = self.clock.now()
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: j.created)
            return {"data": [j.view(now, truncated=True) for j in jobs]}

    def _job(self, request: Request) -> EmulatedJob:
        with self.lock:
            job = self.jobs.get(request.params["job_id"])
        if job is None:
            raise HTTPError(404, f"Fine-tune job {request.params['job_id']!r} not found", code="not_found")
        return job

    def _cancel(self, request: Request) -> dict[str, Any]:
        job = self._job(request)
        now = self.clock.now()
        with self.lock:
            status = job.status(now)
            if status in (*_TERMINAL, "cancel_requested"):
                raise bad_request(f"Fine-tune job {job.id} cannot be cancelled: it is {status}")
            job.cancel(now)
            return job.view(now, truncated=True)

    def _download(self, request: Request) -> Response:
        unknown = sorted(set(request.query) - {"ft_id", "checkpoint", "checkpoint_step"})
        if unknown:
            raise bad_request(f"Unknown query parameter {unknown[0]!r}", unknown[0])
        job_id = request.arg("ft_id") or ""
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise HTTPError(404, f"Fine-tune job {job_id!r} not found", code="not_found")
        now = self.clock.now()
        kind = request.arg("checkpoint")
        step = request.arg("checkpoint_step")
        if step is not None:
            if not any(c["step"] == int(step) for c in job.visible_checkpoints(now)):
                raise bad_request(f"No checkpoint at step {step} for {job_id}", "checkpoint_step")
            kind = "adapter" if job.lora else "model_output_path"
        elif job.status(now) != "completed":
            raise bad_request(f"Fine-tune job {job_id} is {job.status(now)}; weights exist once it is completed")
        if kind not in ("merged", "adapter", "model_output_path"):
            raise bad_request("checkpoint must be one of merged, adapter, model_output_path", "checkpoint")
        if kind in ("merged", "adapter") and not job.lora:
            raise bad_request(f"{kind!r} is only available for LoRA jobs; use 'model_output_path'", "checkpoint")
        if kind == "merged" and not job.limits["merge_output_lora"]:
            raise bad_request(f"{job.request.get('model')} does not produce merged LoRA outputs", "checkpoint")
        archive = tar_zst(weights_files(job, kind), root=job.output_name.split("/")[-1])
        name = f"{job.output_name.split('/')[-1]}.tar.zst"
        headers = {"content-disposition": f'attachment; filename="{name}"', "accept-ranges": "bytes"}
        wanted = request.headers.get("range") or ""
        with self.lock:
            cut = self._cuts.pop(0) if self._cuts and not wanted else None
        if cut is not None:  # a transfer cut short: the first part, and the whole size the client should expect
            part = archive[: int(len(archive) * cut)]
            headers["content-range"] = f"bytes 0-{len(part) - 1}/{len(archive)}"
            return Response(part, 206, headers, content_type="application/octet-stream")
        if wanted:  # ``Range: bytes=N-`` (what ``tg ft download`` sends to resume): 206 with the rest
            self.record("download_range", range=wanted)
            start = int(wanted.removeprefix("bytes=").split("-")[0] or 0)
            if start >= len(archive):
                return Response(b"", 416, {"content-range": f"bytes */{len(archive)}"})
            headers["content-range"] = f"bytes {start}-{len(archive) - 1}/{len(archive)}"
            return Response(archive[start:], 206, headers, content_type="application/octet-stream")
        return Response(archive, 200, headers, content_type="application/octet-stream")

    # -- chat completions ---------------------------------------------------------------------------------------

    def _chat(self, request: Request) -> dict[str, Any]:
        body = check_chat(request.json())
        memory = None if body["model"] in self.catalog else self._memory_of(body["model"])
        return chat_completion(body, memory, completion_id=f"chatcmpl-{self.next_id()}", created=self.clock.now())

    def _memory_of(self, model: str) -> dict[str, str]:
        """What a deployed fine-tune learned; a fine-tune's output name without a deployment is refused."""
        now = self.clock.now()
        with self.lock:
            deployment = self.projects.serving(model, now)
            job = self.jobs.get(deployment.job_id) if deployment is not None else None
            if job is not None:
                file = self.files.get(job.request["training_file"])
                return answer_memory(file.summary.pairs if file and file.summary else [])
        raise HTTPError(
            404,
            f"Unable to access model {model}. Please visit https://api.together.ai/models to view the list of "
            "supported models. Fine-tuned models are served from a dedicated endpoint: deploy it first.",
            code="model_not_available",
        )



@contextmanager
def together_server(**options: Any) -> Iterator[TogetherServer]:
    """Run a :class:`TogetherServer` for the duration of the ``with`` block (options as its init)."""
    server = TogetherServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
