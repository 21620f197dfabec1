"""Retargeting: the same job on another provider, with every translation stated.

Built from what each provider declares (``supported_settings``, ``Options``, ``check_spec``,
``default_learning_rate``, ``batch_size_range``, its catalog and estimator), never from provider names:

* **epochs** = the epochs the source service actually ran (its resolved ``n_epochs``; a job imported before it
  resolved them gets the source catalog's default-epoch rule, said so);
* **batch size** = the source's, clamped to the target model's limits where the target declares them;
* **learning rate** = the target's own default rate for the method and adapter x the source's learning-rate
  multiplier, kept within 0.1x..10x of that default (the source's base rate is unpublished, so its multiplier
  is read as a factor on the target's default); left to the target's default when either is unknown;
* **DPO beta** kept (as the target's ``beta`` or ``dpo_beta`` option); **seed** and **suffix** carried;
* a setting the target cannot take is dropped, and the row says so.

A replacement base is suggested from the target's catalog: models of the same ``quality_class`` as the source
base (the nearest class when there is none), that train with the method, deployable where the target serves
fine-tunes only through deployments, cheapest to train first; each with its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ftkit.errors import ConfigError, FtkitError
from ftkit.registry import available_providers, get_provider
from ftkit.spec import Adapter, JobSpec

if TYPE_CHECKING:
    from ftkit.estimation.catalog import CatalogModel
    from ftkit.migration._types import ImportedJob
    from ftkit.provider import Provider

__all__ = ["RetargetPlan", "Suggestion", "Translation", "parse_target", "retarget", "suggest_replacements"]

_CLASSES = ("small", "medium", "large")
#: how far from the target's default a translated learning rate may go (the multiplier's range is open-ended)
LR_CLAMP = (0.1, 10.0)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Translation(_Model):
    """One setting moved from the source job to the target: what it was, what it became, and by which rule."""

    setting: str
    source: Any = None
    target: Any = None
    rule: str


class Suggestion(_Model):
    """A replacement base model on the target provider, and why."""

    model: str
    reason: str
    training_usd_per_1m: float | None = None


class RetargetPlan(_Model):
    """The source job as a job on one target, ready to start (``spec``), with what changed and what it costs."""

    target: str = Field(description="'<provider>:<model>'")
    provider: str
    model: str
    model_reason: str
    suggestions: list[Suggestion] = Field(default_factory=list)
    spec: dict[str, Any]
    translations: list[Translation] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="what the target refuses (from check_spec)")
    estimate: dict[str, Any] | None = None
    estimate_error: str | None = None
    source_cost_usd: float | None = Field(default=None, description="what the source job cost to train")
    serving_input_per_1m: float | None = None
    serving_output_per_1m: float | None = None

    def job_spec(self) -> JobSpec:
        return JobSpec.model_validate(self.spec)


def parse_target(target: str) -> tuple[str, str | None]:
    """``"together:Qwen/Qwen3-8B"`` -> ``("together", "Qwen/Qwen3-8B")``; ``"together"`` -> ``("together", None)``.

    >>> parse_target("local:/models/tiny")
    ('local', '/models/tiny')
    """
    provider, sep, model = target.partition(":")
    provider = provider.strip().lower()
    if provider not in available_providers():
        known = ", ".join(available_providers())
        raise ConfigError(f"--to {target!r}: no provider {provider!r} (known: {known}). Give '<provider>[:<model>]'.")
    return provider, (model or None) if sep else None


def _entry(cls: type[Provider], model: str) -> CatalogModel | None:
    try:
        return cls.catalog().find(model)
    except Exception:  # a provider without a catalog: nothing to read
        return None


def _training_usd(cls: type[Provider], entry: CatalogModel, method: str, adapter: str) -> float | None:
    price = entry.training_price(method, adapter)
    if price is None and entry.parameters_b is not None:
        try:
            bracket = cls.catalog().bracket_for(entry.parameters_b)
        except Exception:  # no catalog brackets
            bracket = None
        price = bracket.prices.get(f"{method}/{adapter}") if bracket else None
    return price.usd_per_1m_tokens if price is not None else None


def suggest_replacements(source_provider: str, source_model: str, target_provider: str, *, method: str = "sft",
                         adapter: str = "lora", limit: int = 3) -> list[Suggestion]:
    """Replacement bases for ``source_model`` on ``target_provider`` (see the module docstring)."""
    source = _entry(get_provider(source_provider), source_model)
    wanted = source.quality_class if source else None
    target_cls = get_provider(target_provider)
    try:
        models = list(target_cls.catalog().models.values())
    except Exception:  # no catalog: nothing to suggest
        return []
    if wanted is None:
        return []
    order = sorted(_CLASSES, key=lambda c: (abs(_CLASSES.index(c) - _CLASSES.index(wanted)), _CLASSES.index(c)))
    for quality in order:
        fits = [m for m in models if m.quality_class == quality and (m.methods is None or method in m.methods)
                and (m.adapters is None or adapter in m.adapters)]
        if target_cls.hosting.needs_deployment:
            fits = [m for m in fits if m.deployment is not None] or fits
        if not fits:
            continue
        priced = [(m, _training_usd(target_cls, m, method, adapter)) for m in fits]
        priced.sort(key=lambda mp: (mp[1] is None, mp[1] or 0.0, mp[0].parameters_b or 0.0, mp[0].name))
        same = "the same quality class" if quality == wanted else f"the nearest quality class ({quality})"
        found = []
        for entry, usd in priced[:limit]:
            facts = [f"{same} as {source_model} ({wanted})"]
            if entry.parameters_b is not None:
                facts.append(f"{entry.parameters_b:g}B parameters")
            if usd is not None:
                facts.append(f"${usd:,.2f}/1M training tokens")
            serving = entry.inference_prices()
            if "input" in serving and "output" in serving:
                facts.append(f"serves at ${serving['input']:,.2f}/${serving['output']:,.2f} per 1M in/out")
            if entry.deployment is not None:
                facts.append(f"deployable ({entry.deployment.hardware}, ${entry.deployment.usd_per_hour:,.2f}/h)")
            found.append(Suggestion(model=entry.name, reason="; ".join(facts), training_usd_per_1m=usd))
        return found
    return []


def retarget(
    imported: ImportedJob,
    target: str,
    *,
    train: str,
    validation: str | None = None,
    options: dict[str, Any] | None = None,
    source_cost_usd: float | None = None,
    estimate: bool = True,
    connection: dict[str, Any] | None = None,
) -> RetargetPlan:
    """The imported job as a job on ``target`` (``"<provider>[:<model>]"``), translated as the module says.

    ``train``/``validation`` are the kept (local) data; ``options`` are extra target options (``max_steps``...);
    ``connection`` the target's credentials (with them, limits the service publishes are read from it)."""
    provider, model = parse_target(target)
    cls = get_provider(provider)
    from ftkit.registry import create_provider

    instance = create_provider(provider, **(connection or {}))
    source = imported.spec
    method, adapter = source.method.value, Adapter.LORA.value
    suggestions = suggest_replacements(source.provider, source.model, provider, method=method, adapter=adapter)
    if model is None:
        if not suggestions:
            raise ConfigError(f"No replacement for {source.model} found in the {provider} catalog; name one: "
                              f"--to {provider}:<model>.")
        model, model_reason = suggestions[0].model, f"suggested: {suggestions[0].reason}"
    else:
        model_reason = "chosen on the command line"
    translations: list[Translation] = []
    fields: dict[str, Any] = {"provider": provider, "model": model, "train": train, "validation": validation,
                              "method": method, "adapter": adapter,
                              "name": f"migrated {imported.remote_id} -> {provider}:{model}"}
    translations.append(Translation(setting="model", source=source.model, target=model, rule=model_reason))
    hyper = imported.hyperparameters
    supported = cls.supported_settings

    def carry(setting: str, value: Any, target_value: Any, rule: str) -> None:
        if value is None and target_value is None:
            return
        if setting in JobSpec.model_fields and setting not in supported:
            translations.append(Translation(setting=setting, source=value, target=None,
                                            rule=f"dropped: {provider} does not take {setting}"))
            return
        if setting in JobSpec.model_fields:
            fields[setting] = target_value
        translations.append(Translation(setting=setting, source=value, target=target_value, rule=rule))

    epochs, epoch_rule = _epochs(imported)
    carry("epochs", hyper.get("n_epochs", source.epochs), epochs, epoch_rule)
    batch = source.batch_size
    if batch is not None:
        lo, hi = instance.batch_size_range(JobSpec(**{**fields, "batch_size": None}))
        clamped = min(max(batch, lo or batch), hi or batch)
        rule = ("kept" if clamped == batch else
                f"clamped to {provider}'s limits for {model} ({lo or '-'}..{hi or '-'})")
        carry("batch_size", batch, clamped, rule)
    multiplier = hyper.get("learning_rate_multiplier")
    default_lr = cls.default_learning_rate(JobSpec(**fields))
    if multiplier is not None and default_lr is not None:
        lo_lr, hi_lr = default_lr * LR_CLAMP[0], default_lr * LR_CLAMP[1]
        lr = float(f"{min(max(default_lr * float(multiplier), lo_lr), hi_lr):.3g}")
        kept = "" if lo_lr <= default_lr * float(multiplier) <= hi_lr else f", kept within {LR_CLAMP[0]:g}x..{LR_CLAMP[1]:g}x"
        carry("learning_rate", f"multiplier {multiplier:g}", lr,
              f"{provider}'s default rate for {method}/{adapter} ({default_lr:g}) x the source's multiplier "
              f"({multiplier:g}){kept}; the source's own base rate is unpublished")
    elif multiplier is not None:
        translations.append(Translation(setting="learning_rate", source=f"multiplier {multiplier:g}", target=None,
                                        rule=f"{provider} publishes no default rate to scale: left to its default"))
    carry("seed", source.seed, source.seed, "carried")
    carry("suffix", source.suffix, source.suffix, "carried")
    target_options = dict(options or {})
    beta = hyper.get("beta")
    if beta is not None and method == "dpo":
        name = next((n for n in ("beta", "dpo_beta") if n in cls.Options.model_fields), None)
        if name is None:
            translations.append(Translation(setting="beta", source=beta, target=None,
                                            rule=f"dropped: {provider} has no DPO beta option"))
        else:
            target_options[name] = beta
            translations.append(Translation(setting=f"options.{name}", source=beta, target=beta, rule="kept"))
    fields["options"] = target_options
    spec = JobSpec(**fields)
    plan = RetargetPlan(target=f"{provider}:{model}", provider=provider, model=model, model_reason=model_reason,
                        suggestions=suggestions, spec=spec.to_dict(), translations=translations,
                        problems=cls.check_spec(spec), source_cost_usd=source_cost_usd)
    from ftkit.evaluation.costs import serving_price

    price = serving_price(provider, model)
    if price is not None:
        plan.serving_input_per_1m, plan.serving_output_per_1m = price.input_per_1m, price.output_per_1m
    if estimate and not plan.problems:
        from ftkit.estimation.compare import estimate_spec

        try:
            plan.estimate = estimate_spec(spec).model_dump(mode="json")
        except FtkitError as e:
            plan.estimate_error = str(e)
    return plan


def _epochs(imported: ImportedJob) -> tuple[int | None, str]:
    ran = imported.hyperparameters.get("n_epochs")
    if ran is not None:
        return int(ran), f"the epochs {imported.spec.provider} actually ran (its resolved n_epochs)"
    if imported.spec.epochs is not None:
        return imported.spec.epochs, "as set on the source job"
    return None, "the source never resolved its epochs: left to the target's default"
