"""Deployments of Azure OpenAI fine-tunes through Azure Resource Manager (the control plane).

A fine-tuned model on Azure answers only through a deployment of it, created on the resource with
``PUT https://management.azure.com/subscriptions/<sub>/resourceGroups/<rg>/providers/
Microsoft.CognitiveServices/accounts/<resource>/deployments/<name>?api-version=2024-10-01`` and the body
``{"sku": {"name": <type>, "capacity": n}, "properties": {"model": {"format": "OpenAI", "name": <model>,
"version": "1"}}}`` (Microsoft Learn, "Deploy a fine-tuned model", REST). Requests then name the
deployment (``/openai/deployments/<name>/chat/completions``). A PUT names the deployment, so repeating
it after a lost answer updates the same deployment: never a second one. Azure deletes fine-tuned
deployments idle for 15 days; Developer-tier deployments are removed after 24 hours.

Deployment types and their hourly hosting fee (Microsoft Learn, "Cost management for fine-tuning",
2026-02-11): ``standard`` and ``globalstandard`` $1.70/hour, ``developer`` none.
The ARM token comes from ``management_token=`` (a string or a callable), ``AZURE_MANAGEMENT_TOKEN``, or
``azure-identity``'s ``DefaultAzureCredential`` when installed (``pip install 'ftkit[azure-entra]'``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from ftkit._retry import RetryPolicy, call_with_retries
from ftkit.deployment import DeploymentContext, DeploymentState, DeploymentStatus
from ftkit.errors import (
    AuthenticationError,
    ConfigError,
    ProviderConnectionError,
    ProviderError,
    RateLimitError,
)

from ._client import PROVIDER

__all__ = ["ARM_API_VERSION", "DEPLOYMENT_TYPES", "ArmDeployments", "deployment_name"]

ARM_API_VERSION = "2024-10-01"
DEFAULT_MANAGEMENT_URL = "https://management.azure.com"
TOKEN_ENV = "AZURE_MANAGEMENT_TOKEN"
#: ftkit's deployment types -> ARM sku names (Microsoft's REST samples use lowercase names)
DEPLOYMENT_TYPES = {"standard": "standard", "globalstandard": "globalstandard", "developer": "developertier"}
SETTINGS = frozenset({"deployment_type", "capacity"})
_STATES = {"creating": DeploymentState.CREATING, "accepted": DeploymentState.CREATING,
           "updating": DeploymentState.CREATING, "moving": DeploymentState.CREATING,
           "succeeded": DeploymentState.READY, "failed": DeploymentState.FAILED, "canceled": DeploymentState.FAILED,
           "deleting": DeploymentState.DELETING}  # fmt: skip
#: how long delete() waits for a Deleting deployment to disappear
DELETE_WAIT_S = 60.0


def deployment_name(deployment_id: str) -> str:
    """>>> deployment_name("dep-20261201-101500-a1b2c3")
    'ftkit-dep-20261201-101500-a1b2c3'
    """
    return f"ftkit-{deployment_id}"[:64]


def settings_for(settings: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(settings) - SETTINGS)
    if unknown:
        raise ConfigError(f"Azure deployments take {', '.join(sorted(SETTINGS))}; not {', '.join(unknown)}.")
    kind = str(settings.get("deployment_type", "standard")).lower()
    if kind not in DEPLOYMENT_TYPES:
        raise ConfigError(f"deployment_type must be one of {', '.join(DEPLOYMENT_TYPES)} (got {kind!r}).")
    capacity = int(settings.get("capacity", 1))
    if capacity < 1:
        raise ConfigError("capacity must be at least 1 (thousands of tokens per minute).")
    return {"deployment_type": kind, "capacity": capacity}


class ArmDeployments:
    """Create, read and delete deployments of one Azure OpenAI resource through ARM, with ftkit's retries."""

    def __init__(self, *, subscription_id: str | None, resource_group: str | None, resource_name: Callable[[], str | None],
                 management_url: str | None, token: str | Callable[[], str] | None, policy: RetryPolicy):
        self._subscription = subscription_id
        self._group = resource_group
        self._resource = resource_name
        self.management_url = (management_url or os.environ.get("AZURE_MANAGEMENT_URL") or DEFAULT_MANAGEMENT_URL).rstrip("/")
        self._token = token
        self.policy = policy

    def secrets(self) -> list[str]:
        token = self._token if isinstance(self._token, str) else os.environ.get(TOKEN_ENV)
        return [token] if token else []

    # -- addressing and auth --------------------------------------------------------------------------

    def url(self, name: str) -> str:
        subscription = self._subscription or os.environ.get("AZURE_SUBSCRIPTION_ID")
        group = self._group or os.environ.get("AZURE_RESOURCE_GROUP")
        resource = self._resource() or os.environ.get("AZURE_OPENAI_RESOURCE")
        missing = [n for n, v in (("subscription_id / AZURE_SUBSCRIPTION_ID", subscription),
                                  ("resource_group / AZURE_RESOURCE_GROUP", group),
                                  ("resource_name / AZURE_OPENAI_RESOURCE", resource)) if not v]  # fmt: skip
        if missing:
            raise ConfigError(f"Deploying on Azure needs {', '.join(missing)}: the resource the fine-tune lives in "
                              "(Azure portal, the resource's Overview page).")  # fmt: skip
        return (f"{self.management_url}/subscriptions/{subscription}/resourceGroups/{group}/providers/"
                f"Microsoft.CognitiveServices/accounts/{resource}/deployments/{name}")

    def _bearer(self) -> str:
        token = self._token() if callable(self._token) else self._token
        token = token or os.environ.get(TOKEN_ENV)
        if token:
            return token
        try:
            from azure.identity import DefaultAzureCredential  # type: ignore[import-not-found]
        except ImportError:
            raise ConfigError(
                "Deploying on Azure needs a management (ARM) token: pass management_token=..., set "
                f"{TOKEN_ENV} (`az account get-access-token --resource https://management.azure.com`), or "
                "pip install 'ftkit[azure-entra]' to sign in with DefaultAzureCredential."
            ) from None
        return DefaultAzureCredential().get_token("https://management.azure.com/.default").token

    def _call(self, method: str, name: str, body: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """One idempotent ARM call with ftkit's retries; None for a 404 (the deployment does not exist)."""
        import httpx

        url = self.url(name)

        def send() -> httpx.Response:
            response = httpx.request(method, url, params={"api-version": ARM_API_VERSION}, json=body, timeout=60.0,
                                     headers={"Authorization": f"Bearer {self._bearer()}"})  # fmt: skip
            if response.status_code in (408, 429) or response.status_code >= 500:
                response.raise_for_status()
            return response

        def retryable(exc: BaseException) -> bool:
            return isinstance(exc, httpx.TransportError | httpx.HTTPStatusError)

        def retry_after(exc: BaseException) -> float | None:
            value = exc.response.headers.get("retry-after") if isinstance(exc, httpx.HTTPStatusError) else None
            try:
                return float(value) if value else None
            except ValueError:
                return None

        try:
            response = call_with_retries(send, is_retryable=retryable, retry_after=retry_after, policy=self.policy)
        except httpx.HTTPStatusError as e:
            raise _translate(e.response) from e
        except httpx.TransportError as e:
            raise ProviderConnectionError(f"could not reach Azure Resource Manager ({e}); retry", provider=PROVIDER) from e
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise _translate(response)
        return response.json() if response.content else {}

    # -- the deployment lifecycle ---------------------------------------------------------------------

    def create(self, ctx: DeploymentContext, *, price_per_hour: float | None) -> DeploymentStatus:
        name = ctx.remote_id or deployment_name(ctx.deployment_id)
        settings = settings_for(ctx.settings)
        self.url(name)  # missing subscription/resource settings are refused before anything is recorded
        ctx.remember(remote_id=name)  # before the PUT: a crash right after it still knows what to delete
        body = {"sku": {"name": DEPLOYMENT_TYPES[settings["deployment_type"]], "capacity": settings["capacity"]},
                "properties": {"model": {"format": "OpenAI", "name": ctx.model.model_id, "version": "1"}}}  # fmt: skip
        found = self._call("PUT", name, body) or {}
        return _status(found, name, price_per_hour)

    def status(self, ctx: DeploymentContext) -> DeploymentStatus:
        if not ctx.remote_id:
            return DeploymentStatus(state=DeploymentState.DELETED, raw_state="never created")
        found = self._call("GET", ctx.remote_id)
        if found is None:
            return DeploymentStatus(state=DeploymentState.DELETED, raw_state="not found", remote_id=ctx.remote_id)
        return _status(found, ctx.remote_id, None)

    def delete(self, ctx: DeploymentContext) -> DeploymentStatus:
        if not ctx.remote_id:
            return DeploymentStatus(state=DeploymentState.DELETED, raw_state="never created")
        self._call("DELETE", ctx.remote_id)
        deadline = time.monotonic() + DELETE_WAIT_S
        current = self.status(ctx)
        while current.state is not DeploymentState.DELETED and time.monotonic() < deadline:
            time.sleep(0.2)
            current = self.status(ctx)
        return current


def _status(found: dict[str, Any], name: str, price_per_hour: float | None) -> DeploymentStatus:
    props = found.get("properties") or {}
    raw = str(props.get("provisioningState") or "Creating")
    state = _STATES.get(raw.lower(), DeploymentState.CREATING)
    error = (props.get("error") or {}).get("message") if state is DeploymentState.FAILED else None
    sku = found.get("sku") or {}
    return DeploymentStatus(state=state, raw_state=raw, remote_id=name, serving_id=name, price_per_hour=price_per_hour,
                            error=error or (f"Azure reports {raw}" if state is DeploymentState.FAILED else None),
                            replicas=sku.get("capacity"))  # fmt: skip


def _translate(response: Any) -> ProviderError:
    try:
        error = (response.json() or {}).get("error") or {}
    except ValueError:
        error = {}
    message = f"{error.get('code') or 'Error'}: {error.get('message') or response.text[:200]}"
    status = response.status_code
    if status in (401, 403):
        return AuthenticationError(f"{message} (the ARM token needs the 'Cognitive Services Contributor' role on "
                                   "the resource)", provider=PROVIDER, status_code=status)  # fmt: skip
    if status == 429:
        return RateLimitError(message, provider=PROVIDER, status_code=status, retry_after=None)
    return ProviderError(message, provider=PROVIDER, status_code=status)
