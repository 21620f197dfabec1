"""Turn what a user types (a job id, a directory, ``"openai:gpt-4o-mini"``) into a :class:`TrainedModel`."""

from __future__ import annotations

import json
from pathlib import Path

from ftkit.errors import ConfigError, JobNotFoundError
from ftkit.model import TrainedModel

__all__ = ["resolve_model"]

_MANAGED_PREFIXES = ("openai:", "together:", "local:")


def _local_directory(path: Path) -> TrainedModel:
    adapter_config = path / "adapter_config.json"
    if adapter_config.is_file():
        base = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
        if not base:
            raise ConfigError(f"{adapter_config} does not name its base model (base_model_name_or_path).")
        return TrainedModel(provider="local", model_id=str(base), base_model=str(base), adapter_path=str(path))
    if not (path / "config.json").is_file():
        raise ConfigError(f"{path} holds neither a model (config.json) nor a LoRA adapter (adapter_config.json).")
    return TrainedModel(provider="local", model_id=str(path), base_model=str(path))


def resolve_model(model: TrainedModel | str | Path) -> TrainedModel:
    """A :class:`TrainedModel` for a model object, a local directory, a provider reference or a job id.

    >>> resolve_model("openai:gpt-4o-mini-2024-07-18").provider
    'openai'
    """
    if isinstance(model, TrainedModel):
        return model
    text = str(model)
    path = Path(text).expanduser()
    if path.is_dir():
        return _local_directory(path)
    if text.startswith("local:"):
        return _local_directory(Path(text.removeprefix("local:")).expanduser())
    if text.startswith(_MANAGED_PREFIXES) or ":" in text:
        return TrainedModel.from_ref(text)
    from ftkit.job import FineTuneJob

    try:
        return FineTuneJob.attach(text).result()
    except JobNotFoundError:
        raise ConfigError(
            f"{text!r} is not a directory, a provider reference (openai:<model>, together:<model>) "
            "or a job id in the job store (see `ftkit jobs list`)."
        ) from None
