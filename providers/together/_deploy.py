"""Serving a Together fine-tune: a dedicated endpoint with one deployment, created and removed exactly once.

Together answers a fine-tune only from Dedicated Model Inference (shared/reference/together.md section 5;
docs.together.ai/docs/fine-tuning/deployment), through the v2 projects API of the together 3.1.1 SDK:

1. ``client.endpoints.create(project_id=, name=)`` makes the inference-addressable endpoint;
2. ``client.endpoints.deployments.create(endpoint_id, model="projects/{pid}/models/{ml_id}", config=,
   autoscaling={min_replicas, max_replicas}, inactive_timeout=)`` binds the job's model object to it;
3. ``client.endpoints.update(endpoint_id, traffic_split=[{deployment_id, weight: 1}])`` routes live traffic;
4. the deployment is polled until ``status.state == "DEPLOYMENT_STATE_READY"``; inference then sends the
   endpoint's project-qualified name as ``model``.

A LoRA fine-tune is deployed as its own model, which the API merges into its base (what ``tg endpoints deploy
--merge`` does); attaching several adapters to one shared base deployment (``--attach-adapter``) is not used.
The config is listed for the model's base (``models.retrieve(...).base_model``), as the CLI resolves it.

Every replica is billed per minute while it exists, idle or not, so teardown is the reverse: scale to zero
replicas, take it out of the traffic split, delete the deployment, delete the endpoint. Each step is
idempotent (a 404 means already gone), and each remote id is written to ftkit's store the moment it exists,
so a crashed process leaves nothing ``ftkit deployments delete`` cannot find. Endpoint and deployment carry
ftkit's deployment id in their names, which is how an ambiguous create (timeout, 5xx, dropped connection)
is reconciled by listing instead of creating a second one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ftkit.deployment import DeploymentContext, DeploymentState, DeploymentStatus
from ftkit.errors import ConfigError, ProviderError, UnsupportedSettingError

from ._client import PROVIDER, TogetherApi

if TYPE_CHECKING:
    from ftkit.estimation.catalog import CatalogModel
    from ftkit.model import TrainedModel

__all__ = [
    "DEPLOYMENT_SETTINGS",
    "check_settings",
    "create_deployment",
    "delete_deployment",
    "deployable_problem",
    "deployment_status",
    "hourly_price",
    "map_deployment_state",
]

#: what ``model.deploy(**settings)`` accepts on Together, with what each means
DEPLOYMENT_SETTINGS: dict[str, str] = {
    "min_replicas": "replicas kept running (default 1); each is billed per minute",
    "max_replicas": "upper bound for autoscaling (default: min_replicas)",
    "config": "a config revision (cr_... or projects/{pid}/configs/{id}); default: the smallest compatible one",
    "inactive_timeout": "minutes without requests before Together stops it (0 = never, else 30-1440; default 30)",
    "project_id": "the Together project (default: TOGETHER_PROJECT_ID, else the API key's own project)",
}
#: a forgotten deployment stops itself after this many idle minutes (Together's smallest accepted value)
DEFAULT_INACTIVE_TIMEOUT = 30
_STATES = {
    "DEPLOYMENT_STATE_PROVISIONING": DeploymentState.CREATING,
    "DEPLOYMENT_STATE_SCALING": DeploymentState.CREATING,
    "DEPLOYMENT_STATE_DEGRADED": DeploymentState.CREATING,
    "DEPLOYMENT_STATE_READY": DeploymentState.READY,
    "DEPLOYMENT_STATE_FAILED": DeploymentState.FAILED,
    "DEPLOYMENT_STATE_STOPPING": DeploymentState.DELETING,
    "DEPLOYMENT_STATE_STOPPED": DeploymentState.DELETING,
}


def map_deployment_state(raw: str | None, ready_replicas: int | None = None) -> DeploymentState:
    """Together's ``DEPLOYMENT_STATE_*`` as ftkit's state; scaling or degraded with a ready replica serves.

    >>> map_deployment_state("DEPLOYMENT_STATE_READY"), map_deployment_state("DEPLOYMENT_STATE_SCALING", 1)
    (<DeploymentState.READY: 'ready'>, <DeploymentState.READY: 'ready'>)
    >>> map_deployment_state("DEPLOYMENT_STATE_SOMETHING_NEW")
    <DeploymentState.CREATING: 'creating'>
    """
    state = _STATES.get(str(raw or "").upper(), DeploymentState.CREATING)  # unknown: still coming up, never a guess
    if state is DeploymentState.CREATING and ready_replicas and str(raw).upper() != "DEPLOYMENT_STATE_PROVISIONING":
        return DeploymentState.READY
    return state


# -- checks before anything exists ------------------------------------------------------------------------------


def check_settings(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings with defaults filled in; every problem at once as an UnsupportedSettingError."""
    problems = [
        f"deployment setting {key!r} is not known on Together (known: {', '.join(DEPLOYMENT_SETTINGS)})"
        for key in settings if key not in DEPLOYMENT_SETTINGS
    ]
    low = settings.get("min_replicas", 1)
    high = settings.get("max_replicas", low)
    if not isinstance(low, int) or isinstance(low, bool) or low < 1:
        problems.append("min_replicas must be an integer >= 1 (a deployment with no replica cannot answer)")
    elif not isinstance(high, int) or isinstance(high, bool) or high < low:
        problems.append(f"max_replicas must be an integer >= min_replicas ({low})")
    timeout = settings.get("inactive_timeout", DEFAULT_INACTIVE_TIMEOUT)
    if not isinstance(timeout, int) or isinstance(timeout, bool) or not (timeout == 0 or 30 <= timeout <= 1440):
        problems.append("inactive_timeout must be 0 (never stop) or between 30 and 1440 minutes")
    if problems:
        raise UnsupportedSettingError(PROVIDER, problems)
    return {**settings, "min_replicas": low, "max_replicas": high, "inactive_timeout": timeout}


def _catalog_entry(model: TrainedModel) -> CatalogModel | None:
    from ftkit.estimation.catalog import load_catalog

    catalog = load_catalog(PROVIDER)
    return catalog.find(model.base_model or model.model_id)


def deployable_problem(base_model: str | None) -> str | None:
    """Why fine-tunes of ``base_model`` cannot be served on Together, naming what to train instead (or None).

    >>> "cannot be deployed" in deployable_problem("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
    True
    >>> deployable_problem("Qwen/Qwen2.5-7B-Instruct") is None
    True
    """
    if not base_model or not base_model.endswith("-Reference"):
        return None
    from ftkit.estimation.catalog import load_catalog

    catalog = load_catalog(PROVIDER)
    instead = catalog.default_model or next((m.name for m in catalog.models.values() if m.deployment), None)
    return (
        f"fine-tunes of {base_model} cannot be deployed on Together: '-Reference' bases can be fine-tuned but not "
        f"served from a dedicated endpoint (docs.together.ai/docs/fine-tuning-models). Download the weights and serve "
        f"them yourself (model.download(...)), or train on a deployable base such as {instead}."
    )


def hourly_price(model: TrainedModel, settings: Mapping[str, Any]) -> tuple[float | None, str]:
    """USD per hour for ``settings['min_replicas']`` replicas from the catalog, and where the figure comes from."""
    entry = _catalog_entry(model)
    if entry is None or entry.deployment is None:
        return None, "no hosting price in ftkit's Together catalog for this base; Together's hardware list gives it"
    replicas = int(settings.get("min_replicas", 1))
    offer = entry.deployment
    return round(offer.usd_per_hour * replicas, 4), (
        f"{replicas} x {offer.hardware} at ${offer.usd_per_hour:.2f}/hour per replica, billed per minute "
        f"({offer.cite()})"
    )


# -- the calls --------------------------------------------------------------------------------------------------


def _gone(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.status_code == 404


def _ignoring_404(api: TogetherApi, call: Callable[[Any], Any]) -> Any:
    try:
        return api.safe(call)
    except ProviderError as e:
        if _gone(e):
            return None
        raise


def _resource_name(deployment_id: str) -> str:
    """A name Together accepts for both endpoint and deployment, unique to this ftkit deployment."""
    return "ftkit-" + re.sub(r"[^a-z0-9-]+", "-", deployment_id.lower()).strip("-")


def _short(name: str | None) -> str:
    """``"<project_slug>/<endpoint>/<deployment>"`` -> its last segment."""
    return (name or "").rsplit("/", 1)[-1]


def _project(api: TogetherApi, ctx: DeploymentContext) -> str:
    project = ctx.data.get("project_id") or ctx.settings.get("project_id") or getattr(api.client, "project_id", None)
    if not project:
        identity = api.safe(lambda c: c.whoami())
        project = getattr(getattr(identity, "project", None), "id", None)
        if not project:
            raise ConfigError(
                "Together needs a project for deployments and this API key names none: set TOGETHER_PROJECT_ID or "
                "pass deploy(project_id=...)."
            )
    if ctx.data.get("project_id") != project:
        ctx.remember(project_id=project)
    return str(project)


def _model_path(ctx: DeploymentContext, project: str) -> str:
    object_id = ctx.model.info.get("model_object_id")
    if not object_id:
        raise ConfigError(
            f"{ctx.model.label} has no Together model object id (model_object_id), which a deployment needs. "
            "Read the model from its finished job again: `FineTuneJob.attach(job_id).result()`."
        )
    return f"projects/{project}/models/{object_id}"


def _choose_config(api: TogetherApi, ctx: DeploymentContext, project: str, model_path: str) -> str:
    """The config revision to deploy: the user's, else the one with the fewest accelerators."""
    chosen = ctx.settings.get("config")
    if chosen:
        return chosen if str(chosen).startswith("projects/") else f"projects/{project}/configs/{chosen}"
    object_id = model_path.rsplit("/", 1)[-1]
    registered = api.safe(lambda c: c.models.retrieve(object_id, project_id=project))
    reference = getattr(registered, "base_model", None) or model_path  # configs are listed by the base model
    configs = list(api.safe(lambda c: list(c.models.configs.list(project_id=project, reference_model=reference))))
    if not configs:
        raise ConfigError(
            f"Together lists no deployment config for {reference}; its fine-tunes cannot be served on a dedicated "
            "endpoint. Download the weights instead (model.download(...))."
        )

    def accelerators(config: Any) -> int:
        count = next((s.value for s in config.selectors or [] if s.key == "accelerator_count"), "1")
        return int(count) if str(count).isdigit() else 1

    best = min(configs, key=accelerators)
    return f"projects/{best.project_id}/configs/{best.id}"


def _find_endpoint(api: TogetherApi, project: str, name: str) -> Any | None:
    return next((e for e in api.safe(lambda c: list(c.endpoints.list(project_id=project))) if _short(e.name) == name),
                None)


def _find_deployment(api: TogetherApi, project: str, endpoint_id: str, name: str) -> Any | None:
    listed = _ignoring_404(api, lambda c: list(c.endpoints.deployments.list(endpoint_id, project_id=project))) or []
    return next((d for d in listed if _short(d.name) == name), None)


def _status_of(deployment: Any, ctx: DeploymentContext) -> DeploymentStatus:
    status = getattr(deployment, "status", None)
    raw = getattr(status, "state", None) or ""
    ready = getattr(status, "ready_replicas", None)
    state = map_deployment_state(raw, ready)
    return DeploymentStatus(
        state=state,
        raw_state=str(raw),
        remote_id=deployment.id,
        serving_id=ctx.data.get("endpoint_name"),
        price_per_hour=ctx.data.get("price_per_hour"),
        error=(getattr(status, "message", None) or raw) if state is DeploymentState.FAILED else None,
        replicas=ready,
    )


def _hardware_price(api: TogetherApi, ctx: DeploymentContext, deployment: Any) -> float | None:
    """USD per hour of the replicas asked for, from Together's own hardware list (None if it is not listed)."""
    hardware = getattr(deployment, "hardware", None)
    if not hardware:
        return None
    try:
        listed = api.safe(lambda c: c.endpoints.hardware.list()).data or []
    except ProviderError:
        return None  # a price preview must not stop a deployment that already exists
    match = next((h for h in listed if hardware in (h.name, h.id)), None)
    if match is None:
        return None
    return round(match.price_cents_per_hour / 100 * int(ctx.settings.get("min_replicas", 1)), 4)


def create_deployment(api: TogetherApi, ctx: DeploymentContext) -> DeploymentStatus:
    """Endpoint, deployment and traffic split, each made once (resumed from ``ctx.data`` after a crash)."""
    settings = check_settings(ctx.settings)
    problem = deployable_problem(ctx.model.base_model)
    if problem:
        raise UnsupportedSettingError(PROVIDER, [problem])
    project = _project(api, ctx)
    model_path = ctx.data.get("model") or _model_path(ctx, project)  # stored: an attached record has no job info
    name = _resource_name(ctx.deployment_id)

    if not ctx.data.get("model"):
        ctx.remember(model=model_path)
    if not ctx.data.get("config"):
        ctx.remember(config=_choose_config(api, ctx, project, model_path))
    if not ctx.data.get("endpoint_id"):
        endpoint = api.once(find=lambda c: _find_endpoint(api, project, name),
                            create=lambda c: c.endpoints.create(project_id=project, name=name))
        ctx.remember(endpoint_id=endpoint.id, endpoint_name=endpoint.name)
    endpoint_id = ctx.data["endpoint_id"]
    if not ctx.remote_id:
        deployment = api.once(
            find=lambda c: _find_deployment(api, project, endpoint_id, name),
            create=lambda c: c.endpoints.deployments.create(
                endpoint_id, project_id=project, name=name, model=model_path, config=ctx.data["config"],
                autoscaling={"min_replicas": settings["min_replicas"], "max_replicas": settings["max_replicas"]},
                inactive_timeout=settings["inactive_timeout"],
            ),
        )
        ctx.remember(remote_id=deployment.id, deployment_name=deployment.name)
        price = _hardware_price(api, ctx, deployment)
        if price is not None:
            ctx.remember(price_per_hour=price, price_source="Together's hardware list (priceCentsPerHour)")
    if not ctx.data.get("routed"):
        remote_id = ctx.remote_id
        api.safe(lambda c: c.endpoints.update(
            endpoint_id, project_id=project, update_mask="trafficSplit",
            traffic_split=[{"deployment_id": remote_id, "weight": 1.0}],
        ))
        ctx.remember(routed=True)
    return deployment_status(api, ctx)


def deployment_status(api: TogetherApi, ctx: DeploymentContext) -> DeploymentStatus:
    """The deployment as Together reports it; gone on Together (404) is DELETED. A create a crash interrupted
    (found in the store by ``Deployment.attach``) is finished first: every step is idempotent."""
    if not ctx.data.get("routed") and not ctx.data.get("deleting"):
        return create_deployment(api, ctx)
    project, endpoint_id, remote_id = ctx.data["project_id"], ctx.data["endpoint_id"], ctx.remote_id
    deployment = _ignoring_404(
        api, lambda c: c.endpoints.deployments.retrieve(remote_id, endpoint_id=endpoint_id, project_id=project)
    )
    if deployment is None:
        return DeploymentStatus(state=DeploymentState.DELETED, raw_state="not found", remote_id=remote_id)
    return _status_of(deployment, ctx)


def delete_deployment(api: TogetherApi, ctx: DeploymentContext) -> DeploymentStatus:
    """Scale to zero, unroute, delete the deployment, delete the endpoint; each step once, 404 = done.

    Also finds what an interrupted create made before its id was stored (by ftkit's name for it).
    """
    ctx.remember(deleting=True)  # from here on, nothing (a status read included) finishes the create
    project = _project(api, ctx)
    name = _resource_name(ctx.deployment_id)
    if not ctx.data.get("endpoint_id"):
        endpoint = _find_endpoint(api, project, name)
        if endpoint is None:
            return DeploymentStatus(state=DeploymentState.DELETED, raw_state="never created", remote_id=ctx.remote_id)
        ctx.remember(endpoint_id=endpoint.id, endpoint_name=endpoint.name)
    endpoint_id = ctx.data["endpoint_id"]
    if not ctx.remote_id and not ctx.data.get("deployment_deleted"):
        found = _find_deployment(api, project, endpoint_id, name)
        if found is not None:
            ctx.remember(remote_id=found.id, deployment_name=found.name)
    remote_id = ctx.remote_id
    if remote_id and not ctx.data.get("deployment_deleted"):
        if not ctx.data.get("scaled_to_zero"):  # stops the per-minute billing first, even if a delete fails
            _ignoring_404(api, lambda c: c.endpoints.deployments.update(
                remote_id, endpoint_id=endpoint_id, project_id=project, update_mask="autoscaling",
                autoscaling={"min_replicas": 0, "max_replicas": 0},
            ))
            ctx.remember(scaled_to_zero=True)
        if ctx.data.get("routed", True):
            _ignoring_404(api, lambda c: c.endpoints.update(
                endpoint_id, project_id=project, update_mask="trafficSplit", traffic_split=[]))
            ctx.remember(routed=False)
        _ignoring_404(api, lambda c: c.endpoints.deployments.delete(remote_id, endpoint_id=endpoint_id,
                                                                      project_id=project))
        ctx.remember(deployment_deleted=True)
    if not ctx.data.get("endpoint_deleted"):
        _ignoring_404(api, lambda c: c.endpoints.delete(endpoint_id, project_id=project))
        ctx.remember(endpoint_deleted=True)
    return DeploymentStatus(state=DeploymentState.DELETED, raw_state="deleted", remote_id=remote_id)
