"""`TrainedModel`: what a job produces (or a base model to compare against), usable for generation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from ftkit.types import Capability, Generation, GenerationSettings

if TYPE_CHECKING:
    from ftkit.deployment import Deployment
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

    # Read back from the store and caches written by other versions: unknown fields are ignored.
    model_config = ConfigDict(extra="ignore")

    provider: str
    model_id: str
    base_model: str | None = None
    job_id: str | None = None
    adapter_path: str | None = None
    merged_path: str | None = None
    serving_id: str | None = Field(
        default=None, description="the name inference calls send when a deployment serves it (see deploy())"
    )
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
        """``"<provider>:<model>"``; a path on disk (or a ref with no provider) is a model of the provider
        that declares it runs on your own hardware.

        >>> TrainedModel.from_ref("together:Qwen/Qwen2.5-7B-Instruct").model_id
        'Qwen/Qwen2.5-7B-Instruct'
        """
        provider, sep, model_id = ref.partition(":")
        if not sep or Path(ref).exists() or len(provider) == 1:  # "C:\models\x" is a path, not a provider
            from ftkit.registry import self_hosted_provider

            provider, model_id = self_hosted_provider(), ref
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

        On a provider whose fine-tunes answer only through a deployment, deploy first (:meth:`deploy`) or use
        ``ftkit.deployment.serving(model)``, which deploys and deletes around a block.

        >>> model.generate(["Route this ticket: my card was charged twice"], max_new_tokens=8)  # doctest: +SKIP
        [Generation(text='billing', ...)]
        """
        provider = self._checked(Capability.GENERATE, "generate text")
        if provider.needs_deployment(self):
            from ftkit.errors import JobStateError

            raise JobStateError(
                f"{self.label} answers only through a deployment on {self.provider}. Deploy it first: "
                "`with model.deploy() as d: d.wait_ready(); d.model.generate(...)` (billed per hour while it exists)."
            )
        settings = (settings or GenerationSettings()).model_copy(update=overrides)
        chats = [[{"role": "user", "content": p}] if isinstance(p, str) else list(p) for p in prompts]
        return provider.generate(self, chats, settings)

    def deploy(self, *, store: Any = None, **settings: Any) -> Deployment:
        """Create a deployment that serves this fine-tune (billed per hour until deleted).

        Recorded in the job store before the provider is called, so `ftkit deployments list` always finds it.
        Use it as a context manager to delete it on exit; ``settings`` are the provider's (replicas, GPU...).
        """
        from ftkit.deployment import Deployment

        return Deployment.create(self, store=store, **settings)

    def merge(self, out_dir: str | Path, **kwargs: Any) -> Path:
        """Write a merged full-precision model that loads without ftkit (local and downloaded adapters)."""
        return self._checked(Capability.MERGE, "merge models").merge(self, Path(out_dir), **kwargs)

    def export_ollama(self, out_dir: str | Path, **kwargs: Any) -> Path:
        """Write merged weights plus an Ollama ``Modelfile`` (chat template, system prompt, parameters)."""
        return self._checked(Capability.EXPORT, "export to Ollama").export_ollama(self, Path(out_dir), **kwargs)

    def download(self, dest: str | Path, **kwargs: Any) -> Path:
        """Fetch a managed model's weights (adapter or merged) to ``dest`` so it can be served or merged locally."""
        return self._checked(Capability.DOWNLOAD, "download weights").download(self, dest=Path(dest), **kwargs)

    def loss(self, examples: list[dict[str, Any]]) -> list[Any]:
        """Per-example negative log-likelihood on the reference tokens (local models), for perplexity."""
        return self._checked(Capability.LOSS, "compute losses").loss(self, examples)

    def _checked(self, capability: Capability, verb: str) -> Provider:
        from ftkit.provider import require_capability

        provider = self.provider_instance()
        require_capability(provider, capability, verb=verb)
        return provider


def _make_provider(name: str, config: dict[str, Any]) -> Provider:
    from ftkit.registry import create_provider

    return create_provider(name, **config)
