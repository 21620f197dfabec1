"""Provider catalogs: prices, model facts, data rules and availability dates, each with its source.

Every provider ships one YAML file next to the module that defines its class (``Provider.catalog_file``,
``catalog.yaml`` by default), built-ins and plugins alike. Prices change and models
retire, so nothing here is hard-coded in Python: a user corrects a figure with a YAML file of the same
shape, and it is merged over the shipped one **per model** (a user entry replaces only the fields it sets).

Precedence, lowest to highest:

1. the shipped file, in the provider's own package;
2. the user file, ``$FTKIT_HOME/catalog/<provider>.yaml`` (``~/.ftkit/catalog/<provider>.yaml`` by default);
3. ``$FTKIT_CATALOG_DIR/<provider>.yaml``, for a project or CI override.

>>> cat = load_catalog("openai")
>>> cat.model("gpt-4o-mini").name
'gpt-4o-mini-2024-07-18'
>>> cat.model("gpt-4o-mini").training_price("sft", "lora").usd_per_1m_tokens
3.0
"""

from __future__ import annotations

import functools
import os
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ftkit.errors import ConfigError

__all__ = [
    "Architecture",
    "AvailabilityProblem",
    "Catalog",
    "CatalogModel",
    "DataRules",
    "DefaultEpochRule",
    "DeploymentOffer",
    "Price",
    "SizeBracket",
    "availability_messages",
    "availability_problems",
    "catalog_paths",
    "clear_catalog_cache",
    "existing_overrides",
    "load_catalog",
]

#: dataset formats as ftkit.data.detect_format names them ("preference" is TRL's prompt/chosen/rejected,
#: "openai_preference" the input/preferred_output/non_preferred_output rows OpenAI and Together take)
FormatName = Literal[
    "chat", "instruction", "prompt_completion", "text", "classification", "preference", "openai_preference"
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Price(_Strict):
    """One price with where it came from. ``usd_per_1m_tokens`` or ``usd_per_hour``."""

    usd_per_1m_tokens: float | None = Field(default=None, ge=0)
    usd_per_hour: float | None = Field(default=None, ge=0)
    source: str
    read_on: date

    def cite(self) -> str:
        return f"{self.source} (read {self.read_on.isoformat()})"


class DefaultEpochRule(_Strict):
    """A provider's rule for ``epochs`` left unset (OpenAI's cookbook heuristic for ``n_epochs="auto"``).

    Start at ``target_epochs``; if that gives fewer than ``min_target_examples`` example-passes, raise
    epochs to fill them (at most ``max_epochs``); if it gives more than ``max_target_examples``, lower
    them (at least ``min_epochs``).
    """

    target_epochs: int = 3
    min_target_examples: int = 100
    max_target_examples: int = 25_000
    min_epochs: int = 1
    max_epochs: int = 25
    source: str
    read_on: date

    def epochs_for(self, n_examples: int) -> int:
        n = max(n_examples, 1)
        if n * self.target_epochs < self.min_target_examples:
            return min(self.max_epochs, self.min_target_examples // n)
        if n * self.target_epochs > self.max_target_examples:
            return max(self.min_epochs, self.max_target_examples // n)
        return self.target_epochs


class DataRules(_Strict):
    """What the provider accepts; the data validator checks files against these."""

    min_examples: int = Field(default=1, ge=1)
    max_file_bytes: int | None = None
    formats: list[FormatName]
    methods: list[str]
    adapters: list[str]
    default_epochs: int | None = Field(default=None, description="epochs when unset and no rule applies")
    default_epoch_rule: DefaultEpochRule | None = None
    default_n_evals: int = 0
    minimum_charge_usd: float | None = None
    job_creation_ends: date | None = Field(default=None, description="no new jobs from this date")
    notes: list[str] = Field(default_factory=list)
    source: str
    read_on: date


class Architecture(_Strict):
    """The shape of a decoder-only transformer, as in its ``config.json``: enough for memory and FLOPs."""

    parameters: int | None = Field(default=None, gt=0, description="published total; computed when absent")
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool = False
    attention_bias: bool = False
    dtype: str = "bfloat16"
    max_position_embeddings: int | None = None
    attention_head_dim: int | None = Field(
        default=None, gt=0, description="config.json's head_dim where it is not hidden / heads (Qwen3, Gemma)")
    num_experts: int = Field(default=0, ge=0, description="routed MLP experts per layer (0: a dense model)")
    experts_per_token: int = Field(default=0, ge=0, description="experts each token is routed to")
    expert_intermediate_size: int | None = Field(default=None, gt=0, description="width of one expert's MLP")
    shared_expert_intermediate_size: int = Field(default=0, ge=0, description="always-on shared expert width")
    source: str = "config.json"

    @property
    def head_dim(self) -> int:
        return self.attention_head_dim or self.hidden_size // self.num_attention_heads

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def attention_parameters_per_layer(self) -> int:
        h, q, kv = self.hidden_size, self.num_attention_heads * self.head_dim, self.num_key_value_heads * self.head_dim
        return h * q * 2 + h * kv * 2  # q, o and k, v

    def mlp_parameters_per_layer(self, *, active: bool = False) -> int:
        """One layer's MLP weights; ``active``: only those one token runs through (its experts, for MoE)."""
        h = self.hidden_size
        if not self.is_moe:
            return 3 * h * self.intermediate_size  # gate, up, down
        experts = self.experts_per_token if active else self.num_experts
        width = self.expert_intermediate_size or self.intermediate_size
        return 3 * h * (experts * width + self.shared_expert_intermediate_size) + h * self.num_experts  # + router

    @property
    def linear_parameters_per_layer(self) -> int:
        """Weights of one layer's attention and MLP projections (what LoRA and 4-bit act on)."""
        return self.attention_parameters_per_layer + self.mlp_parameters_per_layer()

    def active_parameter_count(self) -> int:
        """Parameters one token's forward pass uses (all of them for a dense model): what sets FLOPs."""
        inactive = self.mlp_parameters_per_layer() - self.mlp_parameters_per_layer(active=True)
        return self.parameter_count() - inactive * self.num_layers

    @property
    def embedding_parameters(self) -> int:
        """Input embedding plus the output head (once when tied)."""
        return self.vocab_size * self.hidden_size * (1 if self.tie_word_embeddings else 2)

    def parameter_count(self) -> int:
        """The published total when known, else computed from the shape (RMSNorm decoder, dense or MoE)."""
        if self.parameters is not None:
            return self.parameters
        h = self.hidden_size
        heads = self.num_attention_heads + 2 * self.num_key_value_heads
        bias = heads * self.head_dim if self.attention_bias else 0
        per_layer = self.linear_parameters_per_layer + bias + 2 * h  # + two norms
        return self.num_layers * per_layer + self.embedding_parameters + h


class SizeBracket(_Strict):
    """Together's price bracket by parameter count; prices keyed ``"<method>/<adapter>"``."""

    name: str
    max_parameters_b: float
    prices: dict[str, Price]


class DeploymentOffer(_Strict):
    """What one replica of a deployment serving a fine-tune of this model costs, billed while it exists."""

    hardware: str = Field(description="the hardware one replica runs on, e.g. '1x H100 80GB'")
    usd_per_hour: float = Field(ge=0, description="per replica; providers bill it by the minute")
    source: str
    read_on: date

    def cite(self) -> str:
        return f"{self.source} (read {self.read_on.isoformat()})"


class CatalogModel(_Strict):
    """One model: its prices, limits, tokenizer and dates. Every figure carries ``source`` and ``read_on``."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    training: dict[str, Price] = Field(
        default_factory=dict, description="keys '<method>/<adapter>', '<method>' or '*' (most specific wins)"
    )
    inference_input: Price | None = None
    inference_cached_input: Price | None = None
    inference_output: Price | None = None
    max_tokens_per_example: int | None = None
    context_tokens: int | None = None
    encoding: str | None = Field(default=None, description="tiktoken encoding (OpenAI models)")
    tokenizer: str | None = Field(default=None, description="Hugging Face id of the tokenizer to use")
    parameters_b: float | None = Field(default=None, description="billions of parameters (size bracket)")
    quality_class: Literal["small", "medium", "large"] | None = Field(
        default=None, description="ftkit's coarse size/quality class, to suggest a replacement of the same class "
        "on another provider (a judgement from parameters and public benchmarks, noted where it is set)")
    methods: list[str] | None = None
    adapters: list[str] | None = None
    architecture: Architecture | None = None
    job_creation_ends: date | None = None
    retires: date | None = Field(default=None, description="base model (and its fine-tunes) stop serving")
    fine_tuning_limits: dict[str, Any] | None = Field(
        default=None, description="the provider's own per-model limits record (its API's shape), checked offline")
    deployment: DeploymentOffer | None = Field(
        default=None, description="the hosting a fine-tune needs where it answers only through a deployment")
    notes: list[str] = Field(default_factory=list)
    source: str
    read_on: date

    def training_price(self, method: str, adapter: str) -> Price | None:
        """The price for ``method``/``adapter``: exact key first, then the method alone, then ``*``."""
        for key in (f"{method}/{adapter}", method, "*"):
            if key in self.training:
                return self.training[key]
        return None

    def inference_prices(self) -> dict[str, float]:
        """USD per 1M tokens of the fine-tuned model: input, cached input, output (those the catalog knows)."""
        prices = {"input": self.inference_input, "cached_input": self.inference_cached_input,
                  "output": self.inference_output}
        return {k: p.usd_per_1m_tokens for k, p in prices.items() if p is not None and p.usd_per_1m_tokens is not None}


class Catalog(_Strict):
    """One provider's catalog. ``model(name)`` resolves aliases, dated snapshots and ``ft:`` ids."""

    provider: str
    rules: DataRules
    default_model: str | None = Field(default=None, description="what `ftkit plan` prices when no model is named")
    models: dict[str, CatalogModel] = Field(default_factory=dict)
    brackets: list[SizeBracket] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list, description="the YAML files merged into this catalog")

    def find(self, name: str) -> CatalogModel | None:
        """The model called ``name`` (or an alias of it), or None."""
        if name in self.models:
            return self.models[name]
        base = _base_of_fine_tune(name)
        if base != name:
            return self.find(base)
        for entry in self.models.values():
            if name in entry.aliases:
                return entry
        lowered = name.lower()
        for entry in self.models.values():
            if lowered == entry.name.lower() or lowered in (a.lower() for a in entry.aliases):
                return entry
        return None

    def model(self, name: str) -> CatalogModel:
        """The model called ``name``; a ConfigError listing the known names otherwise."""
        entry = self.find(name)
        if entry is None:
            known = ", ".join(sorted(self.models))
            raise ConfigError(
                f"{self.provider} catalog has no model {name!r}. Known models: {known}. "
                f"Add it to a user catalog file ({catalog_paths(self.provider)[1]}) to price it."
            )
        return entry

    def bracket_for(self, parameters_b: float) -> SizeBracket | None:
        for bracket in sorted(self.brackets, key=lambda b: b.max_parameters_b):
            if parameters_b <= bracket.max_parameters_b:
                return bracket
        return None


def _base_of_fine_tune(name: str) -> str:
    """``ft:gpt-4o-mini-2024-07-18:org:suffix:id`` -> ``gpt-4o-mini-2024-07-18``; other names unchanged."""
    if name.startswith("ft:"):
        parts = name.split(":")
        if len(parts) > 1 and parts[1]:
            return parts[1]
    return name


# -- loading ------------------------------------------------------------------------------------------


def _ftkit_home() -> Path:
    return Path(os.environ.get("FTKIT_HOME") or Path.home() / ".ftkit")


def override_paths(name: str) -> list[Path]:
    """User files that override the shipped catalog ``name``, lowest precedence first (may not exist)."""
    paths = [_ftkit_home() / "catalog" / f"{name}.yaml"]
    if os.environ.get("FTKIT_CATALOG_DIR"):
        paths.append(Path(os.environ["FTKIT_CATALOG_DIR"]) / f"{name}.yaml")
    return paths


def shipped_catalog(provider: str) -> Any:
    """The catalog file shipped with ``provider``: ``catalog_file`` next to the module defining its class
    (inside its package, or beside a single-module plugin). A subclass defined elsewhere without a catalog
    of its own uses its parent's, so specialising a provider keeps its prices and rules."""
    from ftkit.provider import Provider
    from ftkit.registry import get_provider

    cls = get_provider(provider)
    if not cls.catalog_file:
        raise ConfigError(f"Provider {provider!r} ships no catalog; set FTKIT_CATALOG_DIR to give it one.")
    candidates = [_beside(klass, cls.catalog_file) for klass in cls.__mro__
                  if isinstance(klass, type) and issubclass(klass, Provider) and klass is not Provider]
    return next((c for c in candidates if c.is_file()), candidates[0])


def _beside(cls: type, file_name: str) -> Any:
    import sys

    module = sys.modules[cls.__module__]
    if hasattr(module, "__path__"):  # the class is defined in a package's __init__
        return resources.files(module.__name__).joinpath(file_name)
    if module.__spec__ is not None and module.__spec__.parent:
        return resources.files(module.__spec__.parent).joinpath(file_name)
    return Path(str(module.__file__)).parent / file_name


def catalog_paths(provider: str) -> list[Path]:
    """Every file that can make up ``provider``'s catalog, shipped file first (overrides may not exist)."""
    return [Path(str(shipped_catalog(provider))), *override_paths(provider)]


def existing_overrides(name: str) -> tuple[tuple[str, float], ...]:
    """(path, mtime) of the override files that exist: the cache key of a loaded catalog."""
    return tuple((str(p), p.stat().st_mtime) for p in override_paths(name) if p.is_file())


def read_yaml(text: str, where: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"Catalog file {where} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Catalog file {where} must hold a mapping (provider, rules, models).")
    return data


def merge_catalog_data(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Override top-level sections; ``models`` and ``gpus`` merge per entry, ``rules`` field by field."""
    merged = dict(base)
    for key, value in override.items():
        if key in ("models", "gpus") and isinstance(value, dict):
            models = dict(base.get(key) or {})
            for name, fields in value.items():
                if fields is None:  # `name: null` removes a shipped model
                    models.pop(name, None)
                else:
                    models[name] = {**(models.get(name) or {}), **fields}
            merged[key] = models
        elif key == "rules" and isinstance(value, dict):
            merged["rules"] = {**(base.get("rules") or {}), **value}
        else:
            merged[key] = value
    return merged


@functools.lru_cache(maxsize=32)
def _load_cached(provider: str, overrides: tuple[tuple[str, float], ...]) -> Catalog:
    shipped = shipped_catalog(provider)
    if not shipped.is_file():
        raise ConfigError(
            f"No catalog for provider {provider!r}: expected {shipped}. "
            "A plugin provider ships its catalog.yaml next to its provider module (Provider.catalog_file), "
            "or set FTKIT_CATALOG_DIR."
        )
    data = read_yaml(shipped.read_text(encoding="utf-8"), str(shipped))
    files = [str(shipped)]
    for path_str, _mtime in overrides:
        data = merge_catalog_data(data, read_yaml(Path(path_str).read_text(encoding="utf-8"), path_str))
        files.append(path_str)
    # Top-level keys starting with "x-" hold YAML anchors shared by entries; they are not catalog fields.
    data = {k: v for k, v in data.items() if not str(k).startswith("x-")}
    models = data.get("models") or {}
    # Entries are keyed by their canonical name; the name field is filled from the key.
    data["models"] = {name: {"name": name, **fields} for name, fields in models.items()}
    data["files"] = files
    data.setdefault("provider", provider)
    try:
        return Catalog.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"Invalid catalog for {provider!r} (files: {', '.join(files)}):\n{e}") from None


def load_catalog(provider: str) -> Catalog:
    """The catalog of ``provider``: the shipped file with any user overrides merged per model.

    Cached per set of files and their modification times, so editing an override takes effect at once.
    """
    return _load_cached(provider, existing_overrides(provider))


def clear_catalog_cache() -> None:
    _load_cached.cache_clear()


# -- availability -------------------------------------------------------------------------------------


class AvailabilityProblem(_Strict):
    """A date that stops a model: ``error`` once it has passed, ``warning`` while it is ahead."""

    level: Literal["warning", "error"]
    message: str
    date: date


def availability_problems(provider: str, model: str, today: date | None = None) -> list[AvailabilityProblem]:
    """Problems with starting a fine-tuning job on ``model`` today, errors first.

    >>> [p.level for p in availability_problems("openai", "gpt-4.1-nano", date(2026, 11, 22))]
    ['error', 'warning']
    """
    today = today or date.today()
    catalog = load_catalog(provider)
    entry = catalog.find(model)
    problems: list[AvailabilityProblem] = []
    if entry is not None and entry.retires is not None:
        if today >= entry.retires:
            problems.append(AvailabilityProblem(
                level="error",
                date=entry.retires,
                message=(
                    f"{provider} retired {entry.name} on {entry.retires.isoformat()}: it can no longer be "
                    "fine-tuned and its fine-tuned models no longer serve. Choose another model "
                    f"(`ftkit plan` compares them). Source: {entry.source}."
                ),
            ))
        else:
            problems.append(AvailabilityProblem(
                level="warning",
                date=entry.retires,
                message=(
                    f"{entry.name} retires on {entry.retires.isoformat()} "
                    f"({(entry.retires - today).days} days from {today.isoformat()}); models fine-tuned on it "
                    "stop serving that day, so plan to export or move the workload. "
                    f"Source: {entry.source}."
                ),
            ))
    ends = (entry.job_creation_ends if entry else None) or catalog.rules.job_creation_ends
    if ends is not None:
        if today >= ends:
            problems.append(AvailabilityProblem(
                level="error",
                date=ends,
                message=(
                    f"{provider} stopped accepting new fine-tuning jobs on {ends.isoformat()}. "
                    "Train on another provider instead (`ftkit plan` compares them)."
                ),
            ))
        else:
            problems.append(AvailabilityProblem(
                level="warning",
                date=ends,
                message=(
                    f"{provider} stops accepting new fine-tuning jobs on {ends.isoformat()} "
                    f"({(ends - today).days} days from {today.isoformat()}); jobs must be created before then."
                ),
            ))
    return sorted(problems, key=lambda p: (p.level != "error", p.date))


def availability_messages(provider: str, model: str, today: date | None = None) -> tuple[list[str], list[str]]:
    """``(errors, warnings)`` of :func:`availability_problems`, as the messages an estimate carries."""
    problems = availability_problems(provider, model, today)
    return [p.message for p in problems if p.level == "error"], [p.message for p in problems if p.level != "error"]
