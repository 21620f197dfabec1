"""`TrainedModel`: what a job produces (or a base model to compare against), usable for generation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ftkit.types import Generation, GenerationSettings

if TYPE_CHECKING:
    from ftkit.provider import Provider

__all__ = ["TrainedModel"]


class TrainedModel(BaseModel):
    """A model that can answer prompts: a fine-tune from a job, or a base model.

    ``model_id`` is what the provider calls it: an ``ft:...`` id on OpenAI, the output name on
    Together, a directory for local models. ``adapter_path`` is set when LoRA weights sit on disk.

    >>> base = TrainedModel.from_ref("openai:gpt-4o-mini-2024-07-18")
    >>> base.provider, base.model_id
    ('openai', 'gpt-4o-mini-2024-07-18')
    """

    model_config = ConfigDict(extra="forbid")

    provider: str
    model_id: str
    base_model: str | None = None
    job_id: str | None = None
    adapter_path: str | None = None
    merged_path: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    spec: dict[str, Any] | None = None
    info: dict[str, Any] = Field(default_factory=dict, description="provider-specific facts (checkpoints, files)")

    _provider: Provider | None = PrivateAttr(default=None)

    @property
    def is_base(self) -> bool:
        return self.job_id is None and self.adapter_path is None

    @property
    def label(self) -> str:
        """A short name for reports: ``local:ftk-...`` or ``openai:gpt-4o-mini``."""
        return f"{self.provider}:{self.job_id or self.model_id}"

    @classmethod
    def from_ref(cls, ref: str, **provider_config: Any) -> TrainedModel:
        """``"openai:<model>"``, ``"together:<model>"`` or ``"local:<dir>"`` (a plain directory means local)."""
        provider, sep, model_id = ref.partition(":")
        if not sep or Path(ref).exists():
            provider, model_id = "local", ref
        model = cls(provider=provider, model_id=model_id, base_model=model_id)
        if provider_config:
            model.bind(_make_provider(provider, provider_config))
        return model

    def __eq__(self, other: object) -> bool:
        # Two handles on the same model are equal whichever provider instance they are bound to.
        if not isinstance(other, TrainedModel):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    __hash__ = None  # mutable model: not hashable

    def bind(self, provider: Provider) -> TrainedModel:
        """Use this provider instance (with its credentials) for generation."""
        self._provider = provider
        return self

    def provider_instance(self) -> Provider:
        if self._provider is None:
            self._provider = _make_provider(self.provider, {})
        return self._provider

    def generate(
        self,
        prompts: list[str] | list[list[dict[str, Any]]],
        settings: GenerationSettings | None = None,
        **overrides: Any,
    ) -> list[Generation]:
        """Answer each prompt (a string, or a list of chat messages), greedy by default.

        >>> model.generate(["Route this ticket: my card was charged twice"], max_new_tokens=8)  # doctest: +SKIP
        [Generation(text='billing', ...)]
        """
        settings = (settings or GenerationSettings()).model_copy(update=overrides)
        chats = [[{"role": "user", "content": p}] if isinstance(p, str) else list(p) for p in prompts]
        return self.provider_instance().generate(self, chats, settings)

    def merge(self, out_dir: str | Path, **kwargs: Any) -> Path:
        """Write a merged full-precision model that loads without ftkit (local and downloaded adapters)."""
        return self.provider_instance().merge(self, Path(out_dir), **kwargs)

    def export_ollama(self, out_dir: str | Path, **kwargs: Any) -> Path:
        """Write merged weights plus an Ollama ``Modelfile`` (chat template, system prompt, parameters)."""
        return self._provider_method("export_ollama", "export to Ollama")(self, Path(out_dir), **kwargs)

    def download(self, dest: str | Path, **kwargs: Any) -> Path:
        """Fetch a managed model's weights (adapter or merged) to ``dest`` so it can be served or merged locally."""
        return self._provider_method("download", "download weights")(self, dest=Path(dest), **kwargs)

    def loss(self, examples: list[dict[str, Any]]) -> list[Any]:
        """Per-example negative log-likelihood on the reference tokens (local models), for perplexity."""
        return self._provider_method("loss", "compute losses")(self, examples)

    def _provider_method(self, name: str, what: str) -> Any:
        from ftkit.errors import JobStateError

        method = getattr(self.provider_instance(), name, None)
        if method is None:
            raise JobStateError(f"{self.provider} models cannot {what}.")
        return method


def _make_provider(name: str, config: dict[str, Any]) -> Provider:
    from ftkit.registry import create_provider

    return create_provider(name, **config)
