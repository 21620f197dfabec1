"""Turn what a user types (a job id, a directory, ``"openai:gpt-4o-mini"``) into a :class:`TrainedModel`."""

from __future__ import annotations

from pathlib import Path

from ftkit.errors import ConfigError, JobNotFoundError
from ftkit.model import TrainedModel

__all__ = ["resolve_model"]


def _directory(path: Path) -> TrainedModel:
    """The model in a folder, as the self-hosted provider reads it (a model, or an adapter naming its base)."""
    from ftkit.registry import get_provider, self_hosted_provider

    return get_provider(self_hosted_provider()).model_at(path)


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
        return _directory(path)
    provider, sep, rest = text.partition(":")
    if sep and provider:
        from ftkit.registry import available_providers

        if provider.lower() in available_providers():
            target = Path(rest).expanduser()
            if target.is_dir():
                from ftkit.registry import get_provider

                return get_provider(provider).model_at(target)
            return TrainedModel.from_ref(text)
    from ftkit.job import FineTuneJob

    try:
        return FineTuneJob.attach(text).result()
    except JobNotFoundError:
        raise ConfigError(
            f"{text!r} is not a directory, a provider reference (<provider>:<model>, see `ftkit providers`) "
            "or a job id in the job store (see `ftkit jobs list`)."
        ) from None
