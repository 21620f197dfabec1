"""The emulator's routes for serving fine-tunes (``/v3/whoami``, ``/v2/projects/{pid}/...``,
``/v2/public/inference-instance-types``) and for training metrics (``/v1/fine-tunes/{id}/metrics``), as a mixin
of :class:`~ftkit.providers.together.testing.emulator.TogetherServer`. State lives in
:class:`~ftkit.providers.together.testing._endpoints.Projects`; bodies are checked key by key against what
the SDK sends (camelCase), so a wrong field fails a test instead of being ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ftkit.providers.together.testing._endpoints import (
    HARDWARE,
    PUBLIC_PROJECT,
    Projects,
    base_model_id,
    not_found,
    page,
)
from ftkit.providers.together.testing._wire import bad_request

from ftkit.estimation.catalog import load_catalog
from ftkit.testing._http import Request

if TYPE_CHECKING:
    from ftkit.providers.together.testing._jobs import EmulatedJob

__all__ = ["DedicatedInference"]

_ENDPOINT_CREATE = {"name", "visibility"}
_ENDPOINT_UPDATE = {"etag", "name", "trafficSplit", "visibility"}
_DEPLOYMENT_CREATE = {"autoscaling", "name", "config", "configId", "inactiveTimeout", "maxConcurrentRequestsPerReplica",
                      "model", "modelId", "modelRevisionId", "placement"}  # fmt: skip
_DEPLOYMENT_UPDATE = {"autoscaling", "etag", "inactiveTimeout", "maxConcurrentRequestsPerReplica", "name"}
_AUTOSCALING = {"minReplicas", "maxReplicas", "scaleDown", "scaleDownWindow", "scaleToZeroWindow", "scaleUp",
                "scaleUpWindow", "scalingMetrics"}  # fmt: skip


def _body(request: Request, allowed: set[str], required: tuple[str, ...] = ()) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise bad_request("body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise bad_request(f"Unknown field {unknown[0]!r} in the request", unknown[0])
    for key in required:
        if body.get(key) in (None, ""):
            raise bad_request(f"Missing required field {key!r}", key)
    if "autoscaling" in body:
        if not isinstance(body["autoscaling"], dict):
            raise bad_request("autoscaling must be an object", "autoscaling")
        extra = sorted(set(body["autoscaling"]) - _AUTOSCALING)
        if extra:
            raise bad_request(f"Unknown field 'autoscaling.{extra[0]}' in the request", f"autoscaling.{extra[0]}")
    return body


class DedicatedInference:
    """Routes and helpers mixed into the emulator (it provides ``lock``, ``clock``, ``jobs``, ``user``, ``_api``)."""

    projects: Projects
    jobs: dict[str, EmulatedJob]
    user: str

    # -- what tests read ------------------------------------------------------------------------------------------

    @property
    def running_deployments(self) -> list[dict[str, Any]]:
        """Deployments that would be billed right now (not deleted, replicas asked for): what must be empty
        after an evaluation, whatever happened in it."""
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            return [d.view(now) for d in self.projects.deployments.values() if d.is_running(now)]

    @property
    def created_deployments(self) -> list[dict[str, Any]]:
        """Every deployment ever created (``POST .../deployments`` that succeeded server-side)."""
        return self.recorded("deployment_created")  # type: ignore[attr-defined]

    @property
    def live_endpoints(self) -> list[str]:
        """Names of the endpoints that exist (deleted ones excluded)."""
        with self.lock:  # type: ignore[attr-defined]
            return [e.name for e in self.projects.live_endpoints()]

    # -- routes ------------------------------------------------------------------------------------------------------

    def _register_serving_routes(self) -> None:
        api = self._api  # type: ignore[attr-defined]
        root = "/v2/projects/{project_id}"
        api("GET", "/v3/whoami", self._whoami)
        api("GET", "/v2/public/inference-instance-types", self._hardware)
        api("GET", root + "/models/{model_id}", self._registered_model)
        api("GET", root + "/configs", self._configs)
        api("POST", root + "/endpoints", self._create_endpoint)
        api("GET", root + "/endpoints", self._list_endpoints)
        api("GET", root + "/endpoints/{endpoint_id}", self._get_endpoint)
        api("PATCH", root + "/endpoints/{endpoint_id}", self._update_endpoint)
        api("DELETE", root + "/endpoints/{endpoint_id}", self._delete_endpoint)
        api("POST", root + "/endpoints/{endpoint_id}/deployments", self._create_deployment)
        api("GET", root + "/endpoints/{endpoint_id}/deployments", self._list_deployments)
        api("GET", root + "/endpoints/{endpoint_id}/deployments/{deployment_id}", self._get_deployment)
        api("PATCH", root + "/endpoints/{endpoint_id}/deployments/{deployment_id}", self._update_deployment)
        api("DELETE", root + "/endpoints/{endpoint_id}/deployments/{deployment_id}", self._delete_deployment)
        api("GET", "/v1/fine-tunes/{job_id}/metrics", self._metrics)

    def _project(self, request: Request) -> Projects:
        if request.params["project_id"] != self.projects.project_id:
            raise not_found(f"Project {request.params['project_id']} not found")
        return self.projects

    def _whoami(self, request: Request) -> dict[str, Any]:
        p = self.projects
        return {"type": "project_api_key", "api_key": {"id": "key_emulator"},
                "organization": {"id": "org_emulator", "name": "ftkit emulator"},
                "project": {"id": p.project_id, "name": p.slug, "slug": p.slug}}  # fmt: skip

    def _hardware(self, request: Request) -> dict[str, Any]:
        catalog = load_catalog("together")
        rates = [m.deployment.usd_per_hour for m in catalog.models.values()
                 if m.deployment is not None and m.deployment.hardware == "1x H100 80GB"]  # fmt: skip
        cents = round(100 * (rates[0] if rates else 0))
        return {"object": "list", "next_cursor": None, "data": [{
            "id": "hw_h100_80gb", "name": HARDWARE, "description": "1x NVIDIA H100 80GB", "gpuCount": 1,
            "gpuMemoryGib": 80, "gpuType": "H100", "priceCentsPerHour": cents, "regions": [{"name": "us-central"}],
        }]}  # fmt: skip

    def _job_of_model(self, model_id: str) -> EmulatedJob:
        now = self.clock.now()  # type: ignore[attr-defined]
        for job in self.jobs.values():
            if self.projects.model_path(job).endswith("/" + model_id) and job.status(now) == "completed":
                return job
        raise not_found(f"Model {model_id} not found in project {self.projects.project_id}")

    def _registered_model(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        with self.lock:  # type: ignore[attr-defined]
            return projects.model_view(self._job_of_model(request.params["model_id"]))

    def _configs(self, request: Request) -> dict[str, Any]:
        self._project(request)
        reference = request.arg("referenceModel") or ""
        reference_id = request.arg("referenceModelId") or reference.rsplit("/", 1)[-1]
        if not reference_id:
            raise bad_request("referenceModel is required", "referenceModel")
        if reference and not reference.startswith(f"projects/{PUBLIC_PROJECT}/models/"):
            return page([], None, None)  # configs are listed for base models, not fine-tunes
        configs = [c for name in self.catalog for c in [self.projects.config_for(name)]  # type: ignore[attr-defined]
                   if c is not None and base_model_id(name) == reference_id]  # fmt: skip
        return page(configs, request.arg("after"), int(request.arg("limit") or 0) or None)

    def _create_endpoint(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        body = _body(request, _ENDPOINT_CREATE, ("name",))
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            endpoint = projects.create_endpoint(body, now)
            self.record("endpoint_created", endpoint_id=endpoint.id, name=endpoint.name)  # type: ignore[attr-defined]
            return endpoint.view(now, [])

    def _list_endpoints(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            items = [e.view(now, projects.live_deployments(e.id)) for e in projects.live_endpoints()]
        return page(items, request.arg("after"), int(request.arg("limit") or 0) or None)

    def _get_endpoint(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            endpoint = projects.endpoint(request.params["endpoint_id"])
            return endpoint.view(now, projects.live_deployments(endpoint.id))

    def _update_endpoint(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        body = _body(request, _ENDPOINT_UPDATE)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            endpoint = projects.endpoint(request.params["endpoint_id"])
            projects.update_endpoint(endpoint, body, now)
            return endpoint.view(now, projects.live_deployments(endpoint.id))

    def _delete_endpoint(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            endpoint = projects.endpoint(request.params["endpoint_id"])
            projects.delete_endpoint(endpoint, now)
            self.record("endpoint_deleted", endpoint_id=endpoint.id)  # type: ignore[attr-defined]
        return {}

    def _create_deployment(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        body = _body(request, _DEPLOYMENT_CREATE, ("autoscaling", "name", "model", "config"))
        model = str(body["model"]).split("/revisions/")[0]
        prefix = f"projects/{projects.project_id}/models/"
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            endpoint = projects.endpoint(request.params["endpoint_id"])
            if not model.startswith(prefix):
                raise bad_request(f"model must be {prefix}<model id> of this project", "model")
            job = self._job_of_model(model[len(prefix):])
            deployment = projects.create_deployment(endpoint, body, job, now)
            self.record("deployment_created", deployment_id=deployment.id, endpoint_id=endpoint.id,  # type: ignore[attr-defined]
                        job_id=job.id, replicas=deployment.min_replicas)  # fmt: skip
            return deployment.view(now)

    def _list_deployments(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            endpoint = projects.endpoint(request.params["endpoint_id"])
            items = [d.view(now) for d in projects.live_deployments(endpoint.id)]
        return page(items, request.arg("after"), int(request.arg("limit") or 0) or None)

    def _get_deployment(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            return projects.deployment(request.params["endpoint_id"], request.params["deployment_id"]).view(now)

    def _update_deployment(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        body = _body(request, _DEPLOYMENT_UPDATE)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            deployment = projects.deployment(request.params["endpoint_id"], request.params["deployment_id"])
            projects.update_deployment(deployment, body, now)
            return deployment.view(now)

    def _delete_deployment(self, request: Request) -> dict[str, Any]:
        projects = self._project(request)
        now = self.clock.now()  # type: ignore[attr-defined]
        with self.lock:  # type: ignore[attr-defined]
            endpoint = projects.endpoint(request.params["endpoint_id"])
            deployment = projects.deployment(endpoint.id, request.params["deployment_id"])
            projects.delete_deployment(endpoint, deployment, now)
            self.record("deployment_deleted", deployment_id=deployment.id)  # type: ignore[attr-defined]
        return {}

    def _metrics(self, request: Request) -> dict[str, Any]:
        allowed = {"global_step_from", "global_step_to", "logged_at_from", "logged_at_to", "resolution"}
        unknown = sorted(set(request.query) - allowed)
        if unknown:
            raise bad_request(f"Unknown query parameter {unknown[0]!r}", unknown[0])
        job = self._job(request)  # type: ignore[attr-defined]

        def number(name: str) -> int | None:
            value = request.arg(name)
            return int(value) if value is not None else None

        with self.lock:  # type: ignore[attr-defined]
            rows = job.visible_metrics(self.clock.now(), step_from=number("global_step_from"),  # type: ignore[attr-defined]
                                       step_to=number("global_step_to"), resolution=number("resolution"))  # fmt: skip
        return {"metrics": rows}
