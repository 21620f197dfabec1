"""`fireworks_server()`: an offline Fireworks AI emulator the real ``fireworks-ai`` SDK talks to unmodified.

It serves, on 127.0.0.1, the control-plane paths the SDK builds under ``/v1/accounts/<account>/`` when
``base_url`` is overridden: datasets (create, ``:upload`` multipart, get, delete), supervised
fine-tuning jobs (create with a client-chosen ``supervisedFineTuningJobId``, get, list, ``:cancel``,
``:resume``), DPO jobs (``dpoJobs``: create with ``dpoJobId``, ``trainingConfig`` and ``lossConfig``, get,
``:cancel``, ``:resume``, ``:getMetricsFileEndpoint``), models (get, ``:getDownloadEndpoint``) and deployments (create, get, list,
delete), plus ``/v1/chat/completions``. Jobs run VALIDATING -> RUNNING -> COMPLETED on a fast clock.

Strict where Fireworks is documented to be strict:

* a LoRA fine-tune answers only through an on-demand deployment ("Fine-tuned LoRA models ... can only
  be deployed to on-demand (dedicated) deployments", docs.fireworks.ai/fine-tuning/deploying-loras):
  chat with ``accounts/<a>/models/<m>`` alone is a 404; ``<model>#accounts/<a>/deployments/<d>`` answers
  once the deployment is READY (docs.fireworks.ai/guides/ondemand-deployments, "Query the deployment");
* datasets follow the documented format rules (``_data.py``) and need at least 3 examples; an SFT job
  needs chat rows and a DPO job preference rows;
* a job needs a READY dataset and a tunable base model; ids are ``[a-z0-9-]``, at most 63 characters,
  and a second create with the same id is ``409 ALREADY_EXISTS``.

Assumptions (Fireworks does not document them; each is what the SDK's types suggest):

* errors use the gRPC-gateway body ``{"code": <grpc code>, "message": ..., "details": []}``;
* ``:upload`` checks the file and makes the dataset READY at once (the signed-URL flow needs
  ``:validateUpload``; the one-request flow is documented as "streamlined" only); a bad file is a 400;
* ``metricsFileSignedUrl`` on a running job points at a JSONL file of ``{step, epoch, train_loss}``;
* ``:resume`` continues a PAUSED, FAILED or CANCELLED job from where it stopped;
* ``:getDownloadEndpoint`` returns signed URLs of the adapter's files (``adapter_config.json``,
  ``adapter_model.safetensors``);
* a deleted deployment reads as DELETING, then DELETED, before it disappears from listings.

>>> from ftkit.providers.fireworks.testing import fireworks_server
>>> with fireworks_server() as server:                                         # doctest: +SKIP
...     job = FineTuneJob(provider="fireworks", model=server.base_model, train=rows,
...                       api_key=server.api_key, account_id=server.account_id, base_url=server.base_url)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ftkit.providers.fireworks.testing._data import InvalidDataset, check_dataset
from ftkit.providers.fireworks.testing._jobs import TERMINAL, EmulatedDataset, EmulatedDeployment, EmulatedJob
from ftkit.providers.fireworks.testing._serving import BASE_MODELS, RESOURCE_ID, ServingEndpoints, bad_request

from ftkit.testing._http import EmulatorServer, HTTPError, Request

__all__ = ["FireworksServer", "fireworks_server"]

_GRPC = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 503: 14}
_MAX_UPLOAD = 150 * 1024 * 1024  # datasets.upload docstring: "file sizes up to 150Mb"


class FireworksServer(ServingEndpoints, EmulatorServer):
    """The emulator. ``base_url``, ``api_key`` and ``account_id`` are what a client needs."""

    def __init__(
        self,
        *,
        api_key: str = "fw-emulator-0123456789abcdef",
        account_id: str = "ftkit-tester",
        time_scale: float = 120.0,
        step_seconds: float = 2.0,
        validating_seconds: float = 2.0,
        deploy_seconds: float = 5.0,
        price_per_m_usd: float = 0.50,
    ):
        super().__init__(time_scale=time_scale)
        self.api_key = api_key
        self.account_id = account_id
        self.step_seconds = step_seconds
        self.validating_seconds = validating_seconds
        self.deploy_seconds = deploy_seconds
        self.price_per_m_usd = price_per_m_usd
        self.datasets: dict[str, EmulatedDataset] = {}
        self.jobs: dict[str, EmulatedJob] = {}
        self.deployments: dict[str, EmulatedDeployment] = {}
        self._failures: list[str] = []
        self._register_routes()

    # -- what tests and users read ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """Pass as ``base_url=`` (or ``FIREWORKS_BASE_URL``); the SDK adds ``/v1/...`` itself."""
        return self.url

    base_model = "accounts/fireworks/models/llama-v3p1-8b-instruct"

    @property
    def uploads(self) -> list[dict[str, Any]]:
        return self.recorded("upload")

    @property
    def created_jobs(self) -> list[dict[str, Any]]:
        return self.recorded("job_created")

    @property
    def created_deployments(self) -> list[dict[str, Any]]:
        return self.recorded("deployment_created")

    def live_deployments(self) -> list[str]:
        """Names of deployments that are not deleted (what would still be billed)."""
        now = self.clock.now()
        with self.lock:
            return [d.name for d in self.deployments.values() if d.state(now) not in ("DELETING", "DELETED")]

    def fail_next_job(self, message: str = "Training failed: the trainer ran out of memory.") -> None:
        with self.lock:
            self._failures.append(message)

    def pause_job(self, job_id: str) -> None:
        """Pause a running job, as Fireworks does on account suspension or manual intervention."""
        with self.lock:
            self._job(job_id).stop("JOB_STATE_PAUSED", self.clock.now())

    def error_body(self, status: int, message: str, **details: Any) -> Any:
        return {"code": _GRPC.get(status, 2), "message": message, "details": []}

    def not_found(self, request: Request) -> HTTPError:
        return HTTPError(404, f"Not Found: {request.method} {request.path}")

    # -- routing ----------------------------------------------------------------------------------------------

    def _api(self, method: str, pattern: str, handler: Any) -> None:
        def authorised(request: Request) -> Any:
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                raise HTTPError(401, "unauthenticated: invalid API key")
            account = request.params.get("account")
            if account is not None and account != self.account_id:
                raise HTTPError(403, f"permission denied: the API key cannot access account {account!r}")
            return handler(request)

        self.route(method, pattern)(authorised)

    def _register_routes(self) -> None:
        a = "/v1/accounts/{account}"
        api = self._api
        api("POST", f"{a}/datasets", self._create_dataset)
        api("POST", f"{a}/datasets/{{dataset}}:upload", self._upload)
        api("GET", f"{a}/datasets/{{dataset}}", lambda r: self._dataset(r.params["dataset"]).view())
        api("DELETE", f"{a}/datasets/{{dataset}}", self._delete_dataset)
        api("POST", f"{a}/supervisedFineTuningJobs", self._create_job)
        api("GET", f"{a}/supervisedFineTuningJobs", self._list_jobs)
        api("POST", f"{a}/supervisedFineTuningJobs/{{job}}:cancel", lambda r: self._cancel(r, "sft"))
        api("POST", f"{a}/supervisedFineTuningJobs/{{job}}:resume", lambda r: self._resume(r, "sft"))
        api("GET", f"{a}/supervisedFineTuningJobs/{{job}}", lambda r: self._job_view(self._job(r.params["job"], "sft")))
        api("POST", f"{a}/dpoJobs", self._create_dpo_job)
        api("POST", f"{a}/dpoJobs/{{job}}:cancel", lambda r: self._cancel(r, "dpo"))
        api("POST", f"{a}/dpoJobs/{{job}}:resume", lambda r: self._resume(r, "dpo"))
        api("GET", f"{a}/dpoJobs/{{job}}:getMetricsFileEndpoint", self._dpo_metrics_endpoint)
        api("GET", f"{a}/dpoJobs/{{job}}", lambda r: self._job_view(self._job(r.params["job"], "dpo")))
        api("GET", f"{a}/models/{{model}}:getDownloadEndpoint", self._download_endpoint)
        api("GET", f"{a}/models/{{model}}", self._get_model)
        api("POST", f"{a}/deployments", self._create_deployment)
        api("GET", f"{a}/deployments", self._list_deployments)
        api("GET", f"{a}/deployments/{{deployment}}", lambda r: self._deployment(r.params["deployment"]).view(self.clock.now()))
        api("DELETE", f"{a}/deployments/{{deployment}}", self._delete_deployment)
        api("POST", "/v1/chat/completions", self._chat)
        self.route("GET", "/_signed/{kind}/{name}/{file}")(self._signed)

    def _name(self, collection: str, resource_id: str) -> str:
        return f"accounts/{self.account_id}/{collection}/{resource_id}"

    def _signature(self, path: str) -> str:
        return hashlib.sha256(f"{path}{self.api_key}".encode()).hexdigest()[:24]

    def _signed_url(self, kind: str, name: str, file: str) -> str:
        path = f"/_signed/{kind}/{name}/{file}"
        return f"{self.url}{path}?X-Goog-Signature={self._signature(path)}"

    # -- datasets -------------------------------------------------------------------------------------------------

    def _dataset(self, dataset_id: str) -> EmulatedDataset:
        with self.lock:
            dataset = self.datasets.get(dataset_id)
        if dataset is None:
            raise HTTPError(404, f"dataset {self._name('datasets', dataset_id)!r} not found")
        return dataset

    def _create_dataset(self, request: Request) -> dict[str, Any]:
        body = request.json()
        dataset_id = body.get("datasetId") or ""
        if not RESOURCE_ID.fullmatch(dataset_id):
            raise bad_request(f"invalid datasetId {dataset_id!r}: use lowercase letters, digits and hyphens (at most 63)")
        spec = body.get("dataset")
        if not isinstance(spec, dict):
            raise bad_request("dataset is required")
        with self.lock:
            if dataset_id in self.datasets:
                raise HTTPError(409, f"dataset {self._name('datasets', dataset_id)!r} already exists")
            count = spec.get("exampleCount")
            dataset = EmulatedDataset(self._name("datasets", dataset_id), int(count) if count else None, self.clock.now())
            self.datasets[dataset_id] = dataset
            self.record("dataset_created", dataset_id=dataset_id)
            return dataset.view()

    def _upload(self, request: Request) -> dict[str, Any]:
        dataset = self._dataset(request.params["dataset"])
        part = request.files.get("file")
        if request.content_type != "multipart/form-data" or part is None:
            raise bad_request("expected a multipart/form-data body with a 'file' part")
        if not part.filename.endswith(".jsonl"):
            raise bad_request(f"dataset file must have .jsonl file extension: {part.filename}")
        if len(part.content) > _MAX_UPLOAD:
            raise bad_request("file is larger than 150 MB; use getUploadEndpoint for large files")
        try:
            summary = check_dataset(part.content)
        except InvalidDataset as e:
            raise bad_request(f"invalid dataset: {e}") from None
        if dataset.example_count is not None and dataset.example_count != summary.examples:
            raise bad_request(f"exampleCount is {dataset.example_count} but the file has {summary.examples} examples")
        with self.lock:
            first = dataset.summary is None
            dataset.content, dataset.filename, dataset.summary = part.content, part.filename, summary
            if first:
                self.record("upload", dataset_id=request.params["dataset"], bytes=len(part.content),
                            sha256=hashlib.sha256(part.content).hexdigest())  # fmt: skip
        return {"id": request.params["dataset"], "bytes": len(part.content), "filename": part.filename,
                "object": "file", "created_at": int(dataset.created)}  # fmt: skip

    def _delete_dataset(self, request: Request) -> dict[str, Any]:
        self._dataset(request.params["dataset"])
        with self.lock:
            self.datasets.pop(request.params["dataset"], None)
        return {}

    # -- jobs ----------------------------------------------------------------------------------------------------

    def _job(self, job_id: str, kind: str | None = None) -> EmulatedJob:
        with self.lock:
            job = self.jobs.get(job_id)
        collection = "dpoJobs" if kind == "dpo" else "supervisedFineTuningJobs"
        if job is None or (kind is not None and job.kind != kind):
            raise HTTPError(404, f"{collection[:-1]} {self._name(collection, job_id)!r} not found")
        return job

    def _job_view(self, job: EmulatedJob) -> dict[str, Any]:
        job_id = job.name.rsplit("/", 1)[-1]
        return job.view(self.clock.now(), metrics_url=self._signed_url("metrics", job_id, "metrics.jsonl"))

    def _create_job(self, request: Request) -> dict[str, Any]:
        body = request.json()
        job_id = request.arg("supervisedFineTuningJobId") or f"sftj-{self.next_id():06d}"
        return self._new_job(job_id, body, body, "sft")

    def _create_dpo_job(self, request: Request) -> dict[str, Any]:
        body = request.json()
        job_id = request.arg("dpoJobId") or f"dpoj-{self.next_id():06d}"
        loss = body.get("lossConfig") or {}
        if loss.get("method") not in (None, "DPO"):
            raise bad_request(f"lossConfig.method {loss.get('method')!r} is not a DPO loss")
        return self._new_job(job_id, body, body.get("trainingConfig") or {}, "dpo")

    def _new_job(self, job_id: str, body: dict[str, Any], config: dict[str, Any], kind: str) -> dict[str, Any]:
        """A job from its request: ``config`` holds the training settings (the body itself for SFT,
        ``trainingConfig`` for DPO)."""
        collection = "dpoJobs" if kind == "dpo" else "supervisedFineTuningJobs"
        if not RESOURCE_ID.fullmatch(job_id):
            raise bad_request(f"invalid job id {job_id!r}: use lowercase letters, digits and hyphens")
        dataset_name = body.get("dataset") or ""
        prefix = f"accounts/{self.account_id}/datasets/"
        if not dataset_name.startswith(prefix):
            raise bad_request(f"dataset must be a dataset name like {prefix}<id> (got {dataset_name!r})")
        dataset = self._dataset(dataset_name[len(prefix):])
        if dataset.summary is None:
            raise bad_request(f"dataset {dataset_name!r} is not READY (state UPLOADING); upload it first")
        wanted = "preference" if kind == "dpo" else "chat"
        if dataset.summary.kind != wanted:
            raise bad_request(f"dataset {dataset_name!r} holds {dataset.summary.kind} rows; a {kind.upper()} job needs {wanted} rows")
        base = config.get("baseModel")
        if bool(base) == bool(config.get("warmStartFrom")):
            raise bad_request("exactly one of baseModel or warmStartFrom must be set")
        if base not in BASE_MODELS:
            raise bad_request(f"base model {base!r} is not tunable (Tunable: false) or does not exist")
        context = BASE_MODELS[base][0]
        problems = [
            *(["epochs must be at least 1"] if int(config.get("epochs") or 1) < 1 else []),
            *(["learningRate must be positive"] if config.get("learningRate") is not None and config["learningRate"] <= 0 else []),
            *([f"loraRank must be a power of two from 4 to 64 (got {config['loraRank']})"]
              if config.get("loraRank") is not None and config["loraRank"] not in (4, 8, 16, 32, 64) else []),
            *([f"maxContextLength {config['maxContextLength']} exceeds the model's {context}"]
              if int(config.get("maxContextLength") or 0) > context else []),
        ]  # fmt: skip
        if problems:
            raise bad_request("; ".join(problems))
        output = config.get("outputModel") or self._name("models", job_id)
        with self.lock:
            if job_id in self.jobs:
                raise HTTPError(409, f"{collection[:-1]} {self._name(collection, job_id)!r} already exists")
            if any(j.output_model == output for j in self.jobs.values()):
                raise HTTPError(409, f"model {output!r} already exists")
            assert dataset.summary is not None
            epochs = int(config.get("epochs") or 1)
            request = {**body, "outputModel": output, "epochs": epochs} if kind == "sft" else \
                {**body, "trainingConfig": {**config, "outputModel": output, "epochs": epochs}}
            job = EmulatedJob(
                name=self._name(collection, job_id),
                request=request,
                created=self.clock.now(),
                dataset=dataset,
                steps=max(1, epochs * max(1, dataset.summary.examples // 8)),
                step_seconds=self.step_seconds,
                validating_seconds=self.validating_seconds,
                price_per_m_usd=self.price_per_m_usd,
                output_model=output,
                base_model=base,
                kind=kind,
                failure=self._failures.pop(0) if self._failures else None,
            )
            self.jobs[job_id] = job
            self.record("job_created", job_id=job_id, method=kind, dataset=dataset_name, base_model=base,
                        output_model=output)  # fmt: skip
            return self._job_view(job)

    def _list_jobs(self, request: Request) -> dict[str, Any]:
        size = min(int(request.arg("pageSize") or 50), 200)
        start = int(request.arg("pageToken") or 0)
        with self.lock:
            jobs = sorted((j for j in self.jobs.values() if j.kind == "sft"), key=lambda j: j.name)
        page = jobs[start : start + size]
        token = str(start + size) if start + size < len(jobs) else ""
        return {"supervisedFineTuningJobs": [self._job_view(j) for j in page], "nextPageToken": token,
                "totalSize": len(jobs)}  # fmt: skip

    def _cancel(self, request: Request, kind: str = "sft") -> dict[str, Any]:
        job = self._job(request.params["job"], kind)
        now = self.clock.now()
        with self.lock:
            state = job.state(now)
            if state in TERMINAL:
                raise bad_request(f"job is in state {state} and cannot be cancelled")
            job.stop("JOB_STATE_CANCELLED", now)
        return {}

    def _resume(self, request: Request, kind: str = "sft") -> dict[str, Any]:
        job = self._job(request.params["job"], kind)
        now = self.clock.now()
        with self.lock:
            state = job.state(now)
            if state not in ("JOB_STATE_PAUSED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"):
                raise bad_request(f"job is in state {state}; only paused, failed or cancelled jobs can be resumed")
            job.restart(now)
            return self._job_view(job)

    def _dpo_metrics_endpoint(self, request: Request) -> dict[str, Any]:
        self._job(request.params["job"], "dpo")
        return {"signedUrl": self._signed_url("metrics", request.params["job"], "metrics.jsonl")}

@contextmanager
def fireworks_server(**options: Any) -> Iterator[FireworksServer]:
    """Run a :class:`FireworksServer` for the duration of the ``with`` block (options as its init)."""
    server = FireworksServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
