"""`azure_server()`: an offline Azure OpenAI emulator that the real ``openai.AzureOpenAI`` client talks to.

It is the OpenAI emulator (:mod:`ftkit.providers.openai.testing`) with Azure's wire protocol on top,
on one port:

* the data plane under ``/openai/...`` (files, fine-tuning jobs, models) with ``?api-version=`` required
  and the resource key in the ``api-key`` header (or ``Authorization: Bearer`` for an Entra ID token);
* ``trainingType`` required on ``POST /openai/fine_tuning/jobs``: without it the create fails with
  "The specified base model does not support fine-tuning." (what Azure answers, found by LiteLLM,
  BerriAI/litellm#24687, 2026-03-27), and it is removed before OpenAI's own field checks;
* jobs read ``pending`` (not ``validating_files``) before they start (same source) and fine-tuned models
  are named ``<base>.ft-<job hex>[-<suffix>]`` (Microsoft Learn fine-tuning how-tos);
* a fine-tune answers only through a deployment: ``/openai/deployments/<name>/chat/completions`` needs a
  deployment (created through ARM, below) in state ``Succeeded``; any other name is a 404
  ``DeploymentNotFound``;
* Azure Resource Manager deployments at ``/subscriptions/<sub>/resourceGroups/<rg>/providers/
  Microsoft.CognitiveServices/accounts/<resource>/deployments/<name>?api-version=`` (PUT, GET, DELETE) with
  a Bearer ARM token; a PUT of an existing name updates it (no second deployment).

Assumptions (not documented, each the simplest shape consistent with the sources above): the list of
accepted ``api-version`` values; error wording for a missing or unknown ``api-version``, an unknown
``trainingType`` and an unknown sku; the model listing's ``capabilities``/``deprecation`` fields with
fine-tuning deprecation dates of :data:`FINE_TUNE_ENDS` (placeholders in the future, so tests run; ftkit
reads the real resource's dates); ``provisioningState`` moving ``Creating -> Succeeded`` after
``deploy_seconds`` and ``Deleting`` for one emulated second before the deployment is gone; the ARM sku
names ``standard``, ``globalstandard``, ``developertier`` (matched case-insensitively).

>>> from ftkit.providers.azure.testing import azure_server
>>> with azure_server() as server:                                             # doctest: +SKIP
...     job = FineTuneJob(provider="azure", model="gpt-4o-mini-2024-07-18", train=rows, **server.connection())
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from ftkit.providers.openai.testing._models import find_model
from ftkit.providers.openai.testing._schema import check_chat_request
from ftkit.providers.openai.testing._wire import chat_completion
from ftkit.providers.openai.testing.emulator import AnswerBook, OpenAIEmulator, _Job

from ftkit.testing._http import HTTPError, Request, Response

__all__ = ["API_VERSIONS", "AzureOpenAIServer", "azure_server"]

#: data-plane api-versions the emulator accepts (an assumption: Azure's GA and recent preview versions)
API_VERSIONS = ("2024-10-21", "2025-02-01-preview", "2025-03-01-preview", "2025-04-01-preview",
                "2025-10-01-preview")  # fmt: skip
ARM_API_VERSIONS = ("2023-05-01", "2024-10-01", "2025-06-01")
_TIERS = ("standard", "globalstandard", "developer")
_SKUS = ("standard", "globalstandard", "developertier")
#: the fine-tuning deprecation date the model listing reports (an assumption; see the module docstring)
FINE_TUNE_ENDS = datetime(2027, 10, 14, tzinfo=timezone.utc).timestamp()


class AzureOpenAIServer(OpenAIEmulator):
    """The emulator behind :func:`azure_server`. ``connection()`` is what a provider needs."""

    def __init__(
        self,
        *,
        api_key: str = "aoai-emulator-0123456789abcdef",
        entra_token: str | None = None,
        subscription_id: str = "00000000-0000-0000-0000-000000000001",
        resource_group: str = "ftkit-rg",
        resource_name: str = "ftkit-aoai",
        management_token: str = "arm-emulator-0123456789abcdef",
        deploy_seconds: float = 5.0,
        **options: Any,
    ):
        self.entra_token = entra_token
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.resource_name = resource_name
        self.management_token = management_token
        self.deploy_seconds = deploy_seconds
        self.deployments: dict[str, dict[str, Any]] = {}
        self.training_types: dict[str, str] = {}
        super().__init__(api_key=api_key, **options)
        arm = ("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.CognitiveServices/accounts/"
               "{account}/deployments/{name}")  # fmt: skip
        for method, handler in (("PUT", self._put_deployment), ("GET", self._get_deployment),
                                ("DELETE", self._delete_deployment)):  # fmt: skip
            self.route(method, arm)(self._arm(handler))
        self.route("POST", "/openai/deployments/{deployment}/chat/completions")(
            self._authenticated(self._deployment_chat))

    # -- what clients need and tests read ------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The resource endpoint (``azure_endpoint``): the SDK adds ``/openai/...`` itself."""
        return self.url

    @property
    def management_url(self) -> str:
        return self.url

    def connection(self) -> dict[str, Any]:
        """Provider settings for this emulator (endpoint, key, ARM coordinates and token)."""
        return {"api_key": self.api_key, "endpoint": self.base_url, "subscription_id": self.subscription_id,
                "resource_group": self.resource_group, "resource_name": self.resource_name,
                "management_url": self.management_url, "management_token": self.management_token}  # fmt: skip

    @property
    def created_deployments(self) -> list[dict[str, Any]]:
        return self.recorded("deployment_created")

    def live_deployments(self) -> list[str]:
        """Deployments that exist and are not being deleted (what would still be billed)."""
        with self.lock:
            return [n for n, d in self.deployments.items() if d["deleted_at"] is None]

    # -- Azure's data plane on OpenAI's handlers ---------------------------------------------------------------

    def route(self, method: str, pattern: str) -> Any:
        # Azure serves OpenAI's paths under /openai/ (the SDK's AzureOpenAI builds {endpoint}/openai/<path>)
        if pattern.startswith("/v1/"):
            pattern = "/openai/" + pattern[len("/v1/"):]
        return super().route(method, pattern)

    def _authenticated(self, handler: Any) -> Any:
        def wrapper(request: Request) -> Any:
            key = request.headers.get("api-key")
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if key is None and not bearer:
                raise HTTPError(401, "Access denied due to missing subscription key. Make sure to include "
                                     "subscription key when making requests to an API.", code="401")  # fmt: skip
            good = (key is not None and secrets.compare_digest(key, self.api_key)) or (
                bool(bearer) and self.entra_token is not None and secrets.compare_digest(bearer, self.entra_token))
            if not good:
                raise HTTPError(401, "Access denied due to invalid subscription key or wrong API endpoint. Make "
                                     "sure to provide a valid key for an active subscription and use a correct "
                                     "regional API endpoint for your resource.", code="401")  # fmt: skip
            version = request.arg("api-version")
            if not version:
                raise HTTPError(404, "Resource not found: the api-version query parameter is required.", code="404")
            if version not in API_VERSIONS:
                raise HTTPError(400, f"API version not supported: {version}.", code="BadRequest")
            with self.lock:
                return handler(request)

        return wrapper

    def _create_job(self, request: Request) -> Any:
        body = request.json()
        tier = body.pop("trainingType", None) if isinstance(body, dict) else None
        if tier is None:
            raise HTTPError(400, "The specified base model does not support fine-tuning.", code="invalidPayload")
        if str(tier).lower() not in _TIERS:
            raise HTTPError(400, f"Invalid trainingType {tier!r}: use standard, globalstandard or developer.",
                            param="trainingType", code="invalidPayload")  # fmt: skip
        request.body = json.dumps(body).encode()
        view = super()._create_job(request)
        self.training_types[view["id"]] = str(tier).lower()
        return view

    def _job_view(self, job: _Job) -> dict[str, Any]:
        view = super()._job_view(job)
        if view["status"] == "validating_files":
            view["status"] = "pending"
        return view

    def _model_name(self, job: _Job) -> str:
        suffix = job.obj.get("suffix")
        return f"{job.obj['model']}.ft-{job.obj['id'].removeprefix('ftjob-')}" + (f"-{suffix}" if suffix else "")

    def _retrieve_model(self, request: Request) -> Any:
        model = request.params["model"]
        found = find_model(model)
        if found is None:
            raise HTTPError(404, f"The model '{model}' does not exist.", code="model_not_found")
        return {"id": found.id, "object": "model", "created_at": found.created, "status": "succeeded",
                "lifecycle_status": "generally-available",
                "capabilities": {"fine_tune": found.fine_tunable, "inference": True, "chat_completion": found.chat},
                "deprecation": {"fine_tune": int(FINE_TUNE_ENDS) if found.fine_tunable else None,
                                "inference": int(FINE_TUNE_ENDS + 365 * 86400)}}  # fmt: skip

    def _deployment_chat(self, request: Request) -> Any:
        name = request.params["deployment"]
        deployment = self._live(name)
        if deployment is None or self._state(deployment) != "Succeeded":
            raise HTTPError(404, "The API deployment for this resource does not exist. If you created the "
                                 "deployment within the last 5 minutes, please wait a moment and try again.",
                            code="DeploymentNotFound")  # fmt: skip
        body = check_chat_request({**request.json(), "model": deployment["model"]})
        for job in self.jobs.values():  # a model exists once its job is seen to succeed
            self._job_view(job)
        book = self._models.get(deployment["model"], AnswerBook([]))
        return chat_completion(body, book)

    # -- Azure Resource Manager: deployments ---------------------------------------------------------------------

    def _arm(self, handler: Any) -> Any:
        def wrapper(request: Request) -> Any:
            if request.headers.get("authorization") != f"Bearer {self.management_token}":
                return Response({"error": {"code": "InvalidAuthenticationToken",
                                           "message": "The access token is invalid."}}, 401)  # fmt: skip
            if request.arg("api-version") not in ARM_API_VERSIONS:
                return Response({"error": {"code": "InvalidApiVersionParameter",
                                           "message": f"The api-version '{request.arg('api-version')}' is invalid."}}, 400)  # fmt: skip
            p = request.params
            if (p["sub"], p["rg"], p["account"]) != (self.subscription_id, self.resource_group, self.resource_name):
                return Response({"error": {"code": "ResourceNotFound",
                                           "message": f"The Resource 'Microsoft.CognitiveServices/accounts/{p['account']}' "
                                                      f"under resource group '{p['rg']}' was not found."}}, 404)  # fmt: skip
            with self.lock:
                return handler(request)

        return wrapper

    def _state(self, deployment: dict[str, Any]) -> str:
        now = self.clock.now()
        if deployment["deleted_at"] is not None:
            return "Deleting"
        return "Succeeded" if now >= deployment["created"] + self.deploy_seconds else "Creating"

    def _live(self, name: str) -> dict[str, Any] | None:
        deployment = self.deployments.get(name)
        if deployment is not None and deployment["deleted_at"] is not None and self.clock.now() >= deployment["deleted_at"] + 1:
            del self.deployments[name]
            return None
        return deployment

    def _arm_view(self, name: str, deployment: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                      f"Microsoft.CognitiveServices/accounts/{self.resource_name}/deployments/{name}",
                "name": name, "type": "Microsoft.CognitiveServices/accounts/deployments", "sku": deployment["sku"],
                "properties": {"model": {"format": "OpenAI", "name": deployment["model"], "version": "1"},
                               "provisioningState": self._state(deployment)}}  # fmt: skip

    def _put_deployment(self, request: Request) -> Any:
        name = request.params["name"]
        body = request.json()
        sku = body.get("sku") or {}
        model = ((body.get("properties") or {}).get("model") or {})
        if str(sku.get("name", "")).lower() not in _SKUS or int(sku.get("capacity") or 0) < 1:
            return Response({"error": {"code": "InvalidResourceProperties",
                                       "message": f"The specified SKU '{sku.get('name')}' (capacity "
                                                  f"{sku.get('capacity')}) is not supported."}}, 400)  # fmt: skip
        for job in self.jobs.values():
            self._job_view(job)
        if model.get("format") != "OpenAI" or (model.get("name") not in self._models and find_model(model.get("name") or "") is None):
            return Response({"error": {"code": "DeploymentModelNotSupported",
                                       "message": f"The model '{model.get('name')}' does not exist or is not "
                                                  "ready for deployment."}}, 400)  # fmt: skip
        existing = self._live(name)
        if existing is not None and existing["deleted_at"] is None:
            existing.update(sku=sku, model=model["name"])
            return Response(self._arm_view(name, existing), 200)
        self.deployments[name] = {"sku": sku, "model": model["name"], "created": self.clock.now(), "deleted_at": None}
        self.record("deployment_created", name=name, model=model["name"], sku=sku)
        return Response(self._arm_view(name, self.deployments[name]), 201)

    def _get_deployment(self, request: Request) -> Any:
        name = request.params["name"]
        deployment = self._live(name)
        if deployment is None:
            return Response({"error": {"code": "DeploymentNotFound",
                                       "message": f"Deployment '{name}' could not be found."}}, 404)  # fmt: skip
        return self._arm_view(name, deployment)

    def _delete_deployment(self, request: Request) -> Any:
        deployment = self._live(request.params["name"])
        if deployment is None:
            return Response(b"", 204)
        if deployment["deleted_at"] is None:
            deployment["deleted_at"] = self.clock.now()
            self.record("deployment_deleted", name=request.params["name"])
        return Response(b"", 200)


@contextlib.contextmanager
def azure_server(**options: Any) -> Iterator[AzureOpenAIServer]:
    """Run an :class:`AzureOpenAIServer` for the duration of the ``with`` block (options as its init)."""
    server = AzureOpenAIServer(**options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
