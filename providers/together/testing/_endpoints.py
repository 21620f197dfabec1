"""The emulator's Dedicated Model Inference: projects, registered models, configs, hardware, endpoints and
deployments in the wire shapes of the together 3.1.1 SDK's v2 projects API (camelCase keys, cursor pages of
``{"data": [...], "next_cursor": ...}``).

What it refuses, as the SDK's docstrings describe the service: a deployment of a model that is not a
completed fine-tune of this project, or of a ``-Reference`` base ("can be fine-tuned but cannot be deployed
as dedicated endpoints", docs.together.ai/docs/fine-tuning-models); a config that does not belong to the
model's base; a second endpoint or deployment of the same name (409); ``minReplicas > maxReplicas``; an
``inactiveTimeout`` other than 0 or 30-1440; deleting a deployment still in the live traffic split, or an
endpoint that still has deployments ("Delete its deployments first").

ASSUMPTIONS (not documented; chosen to be strict): a new deployment provisions for ``deploy_seconds``
emulated seconds before ``DEPLOYMENT_STATE_READY``; scaling to zero replicas reads ``DEPLOYMENT_STATE_STOPPED``;
the error bodies' wording and the 400/409 split for refused requests; one public config per deployable
base, priced from ftkit's catalog (``deployment.usd_per_hour``) on ``1xnvidia-h100-80gb``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftkit.providers.together.testing._jobs import iso
from ftkit.providers.together.testing._wire import bad_request

from ftkit.testing._http import HTTPError

if TYPE_CHECKING:
    from ftkit.providers.together.testing._jobs import EmulatedJob

__all__ = ["EmulatedDeployment", "EmulatedEndpoint", "Projects"]

PUBLIC_PROJECT = "together"
HARDWARE = "1xnvidia-h100-80gb"
_STATES_BILLED = ("DEPLOYMENT_STATE_PROVISIONING", "DEPLOYMENT_STATE_READY", "DEPLOYMENT_STATE_SCALING")


def _digest(*parts: str, n: int = 20) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:n]


def base_model_id(name: str) -> str:
    return f"ml_{_digest('base', name)}"


def conflict(message: str) -> HTTPError:
    return HTTPError(409, message, type="invalid_request_error", code="already_exists")


def not_found(message: str) -> HTTPError:
    return HTTPError(404, message, type="invalid_request_error", code="not_found")


@dataclass
class EmulatedDeployment:
    id: str
    endpoint_id: str
    project_id: str
    name: str  # "<slug>/<endpoint>/<deployment>"
    model: str
    config: str
    job_id: str
    min_replicas: int
    max_replicas: int
    inactive_timeout: int
    created: float
    ready_at: float
    updated: float
    etag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    deleted_at: float | None = None

    def state(self, now: float) -> tuple[str, int]:
        if self.max_replicas == 0:
            return "DEPLOYMENT_STATE_STOPPED", 0
        if now < self.ready_at:
            return "DEPLOYMENT_STATE_PROVISIONING", 0
        return "DEPLOYMENT_STATE_READY", self.min_replicas

    def is_running(self, now: float) -> bool:
        """Billed: not deleted and with replicas asked for (Together bills per minute per replica)."""
        return self.deleted_at is None and self.state(now)[0] in _STATES_BILLED

    def view(self, now: float) -> dict[str, Any]:
        state, ready = self.state(now)
        messages = {"DEPLOYMENT_STATE_PROVISIONING": "Provisioning replicas",
                    "DEPLOYMENT_STATE_READY": "Deployment is ready", "DEPLOYMENT_STATE_STOPPED": "Scaled to zero"}
        model_id = self.model.rsplit("/", 1)[-1]
        return {
            "id": self.id, "endpointId": self.endpoint_id, "projectId": self.project_id, "name": self.name,
            "autoscaling": {"minReplicas": self.min_replicas, "maxReplicas": self.max_replicas},
            "config": self.config, "configId": self.config.rsplit("/", 1)[-1], "hardware": HARDWARE,
            "model": f"{self.model}/revisions/rv_{_digest('rev', model_id)}", "modelId": model_id,
            "modelRevisionId": f"rv_{_digest('rev', model_id)}", "createdAt": iso(self.created),
            "updatedAt": iso(self.updated), "etag": self.etag, "trafficMode": "TRAFFIC_MODE_LIVE",
            "desiredReplicas": self.min_replicas, "inactiveTimeout": self.inactive_timeout,
            "status": {"state": state, "message": messages.get(state, state), "readyReplicas": ready,
                       "scheduledReplicas": ready},
        }  # fmt: skip


@dataclass
class EmulatedEndpoint:
    id: str
    project_id: str
    name: str  # "<slug>/<endpoint>"
    created: float
    updated: float
    traffic_split: list[dict[str, Any]] = field(default_factory=list)
    etag: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    deleted_at: float | None = None

    def view(self, now: float, deployments: list[EmulatedDeployment]) -> dict[str, Any]:
        summaries = []
        for d in deployments:
            state, ready = d.state(now)
            summaries.append({"id": d.id, "name": d.name, "model": d.model, "modelId": d.model.rsplit("/", 1)[-1],
                              "autoscaling": {"minReplicas": d.min_replicas, "maxReplicas": d.max_replicas},
                              "createdAt": iso(d.created), "estimatedEffectiveTrafficShare": 1.0 if ready else 0.0,
                              "state": state, "trafficMode": "TRAFFIC_MODE_LIVE", "readyReplicas": ready,
                              "hardware": HARDWARE})  # fmt: skip
        return {
            "id": self.id, "projectId": self.project_id, "name": self.name, "createdAt": iso(self.created),
            "updatedAt": iso(self.updated), "etag": self.etag, "endpointType": "ENDPOINT_TYPE_DEDICATED",
            "visibility": "VISIBILITY_PRIVATE", "trafficSplit": self.traffic_split, "deployments": summaries,
        }  # fmt: skip


def page(items: list[dict[str, Any]], after: str | None, limit: int | None, *, size: int = 50) -> dict[str, Any]:
    """One cursor page: items after the one whose id is ``after``."""
    ids = [item["id"] for item in items]
    start = ids.index(after) + 1 if after in ids else 0
    chunk = items[start : start + (limit or size)]
    more = start + len(chunk) < len(items)
    return {"data": chunk, "next_cursor": chunk[-1]["id"] if more and chunk else None}


@dataclass
class Projects:
    """The account's one project and everything deployed in it."""

    project_id: str
    slug: str
    deploy_seconds: float = 20.0
    endpoints: dict[str, EmulatedEndpoint] = field(default_factory=dict)
    deployments: dict[str, EmulatedDeployment] = field(default_factory=dict)

    # -- models and configs ----------------------------------------------------------------------------------

    def model_path(self, job: EmulatedJob) -> str:
        return f"projects/{self.project_id}/models/ml_{_digest(job.id)}"

    def base_path(self, job: EmulatedJob) -> str:
        return f"projects/{PUBLIC_PROJECT}/models/{base_model_id(job.base_model)}"

    def model_view(self, job: EmulatedJob) -> dict[str, Any]:
        object_id = f"ml_{_digest(job.id)}"
        return {
            "id": object_id, "name": f"{self.slug}/{job.output_name.split('/')[-1]}", "projectId": self.project_id,
            "baseModel": self.base_path(job), "baseModelId": base_model_id(job.base_model),
            "weights": {"type": "WEIGHTS_TYPE_ADAPTER" if job.lora else "WEIGHTS_TYPE_FULL"},
            "createdAt": iso(job.created),
        }  # fmt: skip

    @staticmethod
    def config_for(base_name: str) -> dict[str, Any] | None:
        if base_name.endswith("-Reference"):
            return None  # "-Reference" bases cannot be deployed as dedicated endpoints
        reference = f"projects/{PUBLIC_PROJECT}/models/{base_model_id(base_name)}"
        return {
            "id": f"cr_{_digest('config', base_name)}", "projectId": PUBLIC_PROJECT, "referenceModel": reference,
            "referenceModelId": base_model_id(base_name), "certifications": [],
            "selectors": [{"key": "accelerator_type", "value": "nvidia-h100-80gb"},
                          {"key": "accelerator_count", "value": "1"}],
        }  # fmt: skip

    # -- endpoints --------------------------------------------------------------------------------------------

    def live_endpoints(self) -> list[EmulatedEndpoint]:
        return [e for e in self.endpoints.values() if e.deleted_at is None]

    def endpoint(self, endpoint_id: str) -> EmulatedEndpoint:
        found = self.endpoints.get(endpoint_id)
        if found is None or found.deleted_at is not None:
            raise not_found(f"Endpoint {endpoint_id} not found")
        return found

    def live_deployments(self, endpoint_id: str | None = None) -> list[EmulatedDeployment]:
        return [d for d in self.deployments.values()
                if d.deleted_at is None and (endpoint_id is None or d.endpoint_id == endpoint_id)]  # fmt: skip

    def deployment(self, endpoint_id: str, deployment_id: str) -> EmulatedDeployment:
        found = self.deployments.get(deployment_id)
        if found is None or found.deleted_at is not None or found.endpoint_id != endpoint_id:
            raise not_found(f"Deployment {deployment_id} not found in endpoint {endpoint_id}")
        return found

    def create_endpoint(self, body: dict[str, Any], now: float) -> EmulatedEndpoint:
        name = str(body["name"]).split("/")[-1]
        if any(e.name == f"{self.slug}/{name}" for e in self.live_endpoints()):
            raise conflict(f"An endpoint named {name!r} already exists in this project")
        endpoint = EmulatedEndpoint(f"ep_{uuid.uuid4().hex[:20]}", self.project_id, f"{self.slug}/{name}", now, now)
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def update_endpoint(self, endpoint: EmulatedEndpoint, body: dict[str, Any], now: float) -> None:
        split = body.get("trafficSplit")
        if split is not None:
            live = {d.id for d in self.live_deployments(endpoint.id)}
            for entry in split:
                if set(entry) - {"deploymentId", "weight"} or "deploymentId" not in entry or "weight" not in entry:
                    raise bad_request("trafficSplit entries are {deploymentId, weight}", "trafficSplit")
                if entry["deploymentId"] not in live:
                    raise bad_request(f"Deployment {entry['deploymentId']} is not part of this endpoint", "trafficSplit")
                if not isinstance(entry["weight"], (int, float)) or entry["weight"] < 0:
                    raise bad_request("trafficSplit weights must be non-negative numbers", "trafficSplit")
            endpoint.traffic_split = [{"deploymentId": e["deploymentId"], "weight": float(e["weight"])} for e in split]
        endpoint.updated, endpoint.etag = now, uuid.uuid4().hex[:12]

    def delete_endpoint(self, endpoint: EmulatedEndpoint, now: float) -> None:
        if self.live_deployments(endpoint.id):
            raise bad_request(f"Endpoint {endpoint.id} still has deployments; delete its deployments first")
        endpoint.deleted_at = now

    # -- deployments ------------------------------------------------------------------------------------------

    def create_deployment(self, endpoint: EmulatedEndpoint, body: dict[str, Any], job: EmulatedJob,
                          now: float) -> EmulatedDeployment:
        name = str(body["name"]).split("/")[-1]
        full_name = f"{endpoint.name}/{name}"
        if any(d.name == full_name for d in self.live_deployments(endpoint.id)):
            raise conflict(f"A deployment named {name!r} already exists in endpoint {endpoint.id}")
        scaling = body["autoscaling"]
        low = scaling.get("minReplicas", 1)
        high = scaling.get("maxReplicas", low)
        if not isinstance(low, int) or not isinstance(high, int) or low < 0 or high < low:
            raise bad_request("autoscaling needs 0 <= minReplicas <= maxReplicas", "autoscaling")
        timeout = body.get("inactiveTimeout", 0)
        if not isinstance(timeout, int) or not (timeout == 0 or 30 <= timeout <= 1440):
            raise bad_request("inactiveTimeout must be 0 or between 30 and 1440 minutes", "inactiveTimeout")
        config = self.config_for(job.base_model)
        if config is None:
            raise bad_request(f"{job.base_model} cannot be deployed as a dedicated endpoint", "model")
        wanted = body.get("config") or ""
        if wanted != f"projects/{config['projectId']}/configs/{config['id']}":
            raise bad_request(f"Config {wanted!r} is not compatible with {self.model_path(job)}", "config")
        deployment = EmulatedDeployment(
            id=f"dep_{uuid.uuid4().hex[:20]}", endpoint_id=endpoint.id, project_id=self.project_id, name=full_name,
            model=str(body["model"]).split("/revisions/")[0], config=wanted, job_id=job.id, min_replicas=low,
            max_replicas=high, inactive_timeout=timeout, created=now, ready_at=now + self.deploy_seconds, updated=now,
        )  # fmt: skip
        self.deployments[deployment.id] = deployment
        return deployment

    def update_deployment(self, deployment: EmulatedDeployment, body: dict[str, Any], now: float) -> None:
        scaling = body.get("autoscaling")
        if scaling is not None:
            low = scaling.get("minReplicas", deployment.min_replicas)
            high = scaling.get("maxReplicas", deployment.max_replicas)
            if low < 0 or high < low:
                raise bad_request("autoscaling needs 0 <= minReplicas <= maxReplicas", "autoscaling")
            if deployment.max_replicas == 0 and high > 0:
                deployment.ready_at = now + self.deploy_seconds  # starting again provisions again
            deployment.min_replicas, deployment.max_replicas = low, high
        if body.get("inactiveTimeout") is not None:
            deployment.inactive_timeout = body["inactiveTimeout"]
        deployment.updated, deployment.etag = now, uuid.uuid4().hex[:12]

    def delete_deployment(self, endpoint: EmulatedEndpoint, deployment: EmulatedDeployment, now: float) -> None:
        if any(e["deploymentId"] == deployment.id and e["weight"] > 0 for e in endpoint.traffic_split):
            raise bad_request(f"Deployment {deployment.id} still receives live traffic; remove it from the "
                              "endpoint's trafficSplit first")  # fmt: skip
        deployment.deleted_at = now

    def serving(self, model: str, now: float) -> EmulatedDeployment | None:
        """The ready deployment a chat request's ``model`` reaches: an endpoint name (through its traffic split)
        or a deployment's own qualified name."""
        for deployment in self.live_deployments():
            if deployment.name == model and deployment.state(now)[0] == "DEPLOYMENT_STATE_READY":
                return deployment
        for endpoint in self.live_endpoints():
            if endpoint.name != model:
                continue
            for entry in endpoint.traffic_split:
                found = self.deployments.get(entry["deploymentId"])
                if entry["weight"] > 0 and found and found.deleted_at is None \
                        and found.state(now)[0] == "DEPLOYMENT_STATE_READY":  # fmt: skip
                    return found
            raise HTTPError(503, f"Endpoint {model} has no ready deployment in its traffic split", code="no_capacity")
        return None
