"""`JobSpec`: the provider-neutral description of a fine-tuning job, loadable from and savable to YAML.

Settings left unset (``None``) mean "the provider's default", so a provider can tell a setting the
user asked for (and must honour or refuse) from one it is free to choose.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ftkit.errors import ConfigError

__all__ = ["Adapter", "DataSource", "JobSpec", "Method"]


class Method(str, enum.Enum):
    SFT = "sft"
    DPO = "dpo"

    def __str__(self) -> str:
        return self.value


class Adapter(str, enum.Enum):
    LORA = "lora"
    QLORA = "qlora"
    FULL = "full"

    def __str__(self) -> str:
        return self.value


#: A dataset: a path to a JSONL file, a list of example dicts, a ``datasets.Dataset`` or a pandas DataFrame.
DataSource = Any

#: Settings whose meaning is the same on every provider; providers refuse the ones they cannot honour.
NEUTRAL_SETTINGS = (
    "epochs",
    "learning_rate",
    "batch_size",
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "max_seq_length",
    "seed",
    "suffix",
)


class JobSpec(BaseModel):
    """Everything that defines a fine-tuning job.

    >>> spec = JobSpec(provider="local", model="Qwen/Qwen2.5-0.5B-Instruct", train="train.jsonl",
    ...                adapter="qlora", epochs=3)
    >>> spec.method
    <Method.SFT: 'sft'>
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, validate_assignment=True)

    provider: str = Field(description="'local', 'openai', 'together' or any registered plugin name")
    model: str = Field(description="hub id, local directory, or managed model name")
    train: DataSource = Field(description="path to JSONL, list of dicts, datasets.Dataset or DataFrame")
    validation: DataSource | None = None
    method: Method = Method.SFT
    adapter: Adapter = Adapter.LORA
    epochs: int | None = Field(default=None, ge=1, le=1000)
    learning_rate: float | None = Field(default=None, gt=0, lt=1)
    batch_size: int | None = Field(default=None, ge=1)
    lora_r: int | None = Field(default=None, ge=1, le=1024)
    lora_alpha: float | None = Field(default=None, gt=0)
    lora_dropout: float | None = Field(default=None, ge=0, lt=1)
    max_seq_length: int | None = Field(default=None, ge=16)
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    suffix: str | None = Field(default=None, max_length=40, description="name tag for the trained model")
    name: str | None = Field(default=None, description="a label for the job in listings")
    options: dict[str, Any] = Field(default_factory=dict, description="provider-specific settings")

    @field_validator("provider")
    @classmethod
    def _provider_name(cls, v: str) -> str:
        v = v.strip().lower()
        if not v:
            raise ValueError("provider must not be empty")
        return v

    @field_validator("train", "validation")
    @classmethod
    def _data_source(cls, v: Any) -> Any:
        if v is None:
            return v
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (str, list)) or hasattr(v, "to_dict") or hasattr(v, "to_list"):
            return v
        raise ValueError(
            f"expected a path, a list of dicts, a datasets.Dataset or a pandas DataFrame, got {type(v).__name__}"
        )

    @model_validator(mode="after")
    def _lora_settings_need_an_adapter(self) -> JobSpec:
        if self.adapter == Adapter.FULL:
            for name in ("lora_r", "lora_alpha", "lora_dropout"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} only applies to adapter='lora' or 'qlora', not 'full'")
        return self

    def explicit_settings(self) -> dict[str, Any]:
        """The neutral settings the user set (not left to the provider's default)."""
        return {k: getattr(self, k) for k in NEUTRAL_SETTINGS if getattr(self, k) is not None}

    def is_serializable(self) -> bool:
        """True when the data sources are paths (what YAML and the job store can hold)."""
        return all(s is None or isinstance(s, str) for s in (self.train, self.validation))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for YAML and the job store. In-memory datasets must be materialised first."""
        if not self.is_serializable():
            raise ConfigError(
                "This spec holds an in-memory dataset; save it to JSONL first "
                "(FineTuneJob does this for you when the job starts)."
            )
        return self.model_dump(mode="json", exclude_defaults=False)

    # -- YAML -------------------------------------------------------------------------------------

    @classmethod
    def from_yaml(cls, path: str | Path) -> JobSpec:
        """Load a spec; relative data paths are resolved against the YAML file's folder."""
        import yaml

        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"No job file at {path}.") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"{path} is not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must hold a mapping of job settings (provider, model, train, ...).")
        for key in ("train", "validation"):
            value = raw.get(key)
            if isinstance(value, str) and not Path(value).is_absolute():
                raw[key] = str((path.parent / value).resolve())
        return cls.from_dict(raw, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "job settings") -> JobSpec:
        from pydantic import ValidationError

        try:
            return cls.model_validate(raw)
        except ValidationError as e:
            raise ConfigError(f"Invalid {source}:\n{_format_validation_error(e)}") from None

    def to_yaml(self, path: str | Path | None = None) -> str:
        import yaml

        data = {k: v for k, v in self.to_dict().items() if v not in (None, {}, [])}
        text = yaml.safe_dump(data, sort_keys=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text


def _format_validation_error(e: Any) -> str:
    lines = []
    for err in e.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(spec)"
        lines.append(f"  - {loc}: {err['msg']}")
    return "\n".join(lines)
