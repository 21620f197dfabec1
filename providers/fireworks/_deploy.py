"""On-demand deployments that serve a Fireworks fine-tune, created once and always deletable.

A LoRA fine-tune on Fireworks answers only through an on-demand deployment ("live merge": the
deployment is created on the fine-tuned model itself, docs.fireworks.ai/fine-tuning/deploying-loras);
requests then name ``<model>#accounts/<account>/deployments/<id>``. The deployment id is chosen by
ftkit from its own deployment id, so a create after a lost answer is a 409 that ftkit adopts, never a
second billed deployment. Billing is per GPU-second while replicas exist.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ftkit.deployment import DeploymentContext, DeploymentState, DeploymentStatus
from ftkit.errors import ConfigError, ProviderError

from ._client import FireworksApi, resource_id

__all__ = ["DEFAULT_SETTINGS", "SETTINGS", "create", "delete", "price_per_hour", "status"]

#: one replica that never scales to zero while ftkit uses it (evaluation must not wait on cold starts)
DEFAULT_SETTINGS: dict[str, Any] = {"accelerator_type": "NVIDIA_H100_80GB", "accelerator_count": 1,
                                    "min_replica_count": 1, "max_replica_count": 1}  # fmt: skip
#: settings ``model.deploy(...)`` passes through to ``deployments.create``
SETTINGS = frozenset({"accelerator_type", "accelerator_count", "min_replica_count", "max_replica_count",
                      "deployment_shape", "region", "display_name"})  # fmt: skip
#: how long delete() waits for DELETING to become DELETED
DELETE_WAIT_S = 60.0
_STATES = {"CREATING": DeploymentState.CREATING, "UPDATING": DeploymentState.CREATING, "READY": DeploymentState.READY,
           "FAILED": DeploymentState.FAILED, "DELETING": DeploymentState.DELETING, "DELETED": DeploymentState.DELETED,
           "STATE_UNSPECIFIED": DeploymentState.CREATING}  # fmt: skip


def settings_for(settings: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(settings) - SETTINGS)
    if unknown:
        raise ConfigError(f"Fireworks deployments take {', '.join(sorted(SETTINGS))}; not {', '.join(unknown)}.")
    merged = {**DEFAULT_SETTINGS, **settings}
    if merged.get("deployment_shape"):  # a shape fixes the hardware itself
        merged.pop("accelerator_type", None)
        merged.pop("accelerator_count", None)
    return merged


def price_per_hour(settings: Mapping[str, Any], gpu_prices: Mapping[str, float]) -> float | None:
    """GPUs per replica x replicas x the GPU's hourly price (None for a shape or GPU ftkit cannot price)."""
    merged = settings_for(settings)
    gpu = merged.get("accelerator_type")
    if gpu is None or gpu not in gpu_prices:
        return None
    replicas = max(int(merged.get("min_replica_count") or 0), 1)
    return round(gpu_prices[gpu] * int(merged.get("accelerator_count") or 1) * replicas, 4)


def _status(api: FireworksApi, deployment: Any, model_name: str) -> DeploymentStatus:
    raw = str(getattr(deployment, "state", None) or "STATE_UNSPECIFIED")
    state = _STATES.get(raw, DeploymentState.CREATING)
    message = getattr(getattr(deployment, "status", None), "message", None) or None
    return DeploymentStatus(
        state=state, raw_state=raw, remote_id=str(deployment.name).rsplit("/", 1)[-1],
        serving_id=f"{model_name}#{deployment.name}", replicas=getattr(deployment, "replica_count", None),
        error=message if state is DeploymentState.FAILED else None,
    )


def create(api: FireworksApi, ctx: DeploymentContext) -> DeploymentStatus:
    model_name = ctx.model.model_id
    deployment_id = ctx.remote_id or resource_id("ftkit", ctx.deployment_id)
    ctx.remember(remote_id=deployment_id)  # before the create: a crash right after it still knows the id
    kwargs = settings_for(ctx.settings)

    def find(client: Any) -> Any | None:
        try:
            return client.deployments.get(deployment_id)
        except Exception as e:
            if getattr(e, "status_code", None) == 404:
                return None
            raise

    def make(client: Any) -> Any:
        try:
            return client.deployments.create(base_model=model_name, deployment_id=deployment_id, **kwargs)
        except Exception as e:  # created by an attempt whose answer was lost: adopt it
            if getattr(e, "status_code", None) == 409:
                return client.deployments.get(deployment_id)
            raise

    deployment = api.once(find=find, create=make)
    return _status(api, deployment, model_name)


def status(api: FireworksApi, ctx: DeploymentContext) -> DeploymentStatus:
    if not ctx.remote_id:
        return DeploymentStatus(state=DeploymentState.DELETED, raw_state="never created")
    try:
        deployment = api.safe(lambda c: c.deployments.get(ctx.remote_id))
    except ProviderError as e:
        if e.status_code == 404:
            return DeploymentStatus(state=DeploymentState.DELETED, raw_state="not found", remote_id=ctx.remote_id)
        raise
    return _status(api, deployment, ctx.model.model_id)


def delete(api: FireworksApi, ctx: DeploymentContext) -> DeploymentStatus:
    """Delete it (idempotent: a deployment Fireworks no longer has is deleted)."""
    if not ctx.remote_id:
        return DeploymentStatus(state=DeploymentState.DELETED, raw_state="never created")
    try:
        api.safe(lambda c: c.deployments.delete(ctx.remote_id))
    except ProviderError as e:
        if e.status_code != 404:
            raise
    deadline = time.monotonic() + DELETE_WAIT_S
    current = status(api, ctx)
    while current.state is DeploymentState.DELETING and time.monotonic() < deadline:
        time.sleep(0.2)
        current = status(api, ctx)
    return current  # still DELETING after the wait: the store keeps it listed until a later delete sees it gone
