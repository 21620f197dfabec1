"""`Estimate`: tokens, billed tokens, dollars, memory fit and duration, each with its unit and assumptions."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Estimate", "GpuFit", "TokenCount"]


class TokenCount(BaseModel):
    """Token counts of a dataset for one model's tokenizer."""

    model_config = ConfigDict(extra="forbid")

    examples: int = Field(ge=0)
    total_tokens: int = Field(ge=0, description="tokens in all examples, after the chat template")
    trained_tokens: int = Field(ge=0, description="assistant / completion tokens (those with loss)")
    method: Literal["exact", "approximate"] = "exact"
    tokenizer: str = Field(description="what counted them, e.g. 'tiktoken o200k_base' or a local tokenizer dir")
    expected_error: float | None = Field(default=None, description="relative error of an approximation, e.g. 0.15")
    capped_examples: int = Field(default=0, description="examples above the per-example cap, counted at the cap")
    truncated_tokens: int = Field(default=0, description="tokens beyond max_seq_length that would be cut")
    validation_tokens: int = Field(default=0, description="tokens in the validation file, if any")
    validation_examples: int = Field(default=0, ge=0)
    max_example_tokens: int = Field(default=0, description="tokens of the longest example (before any cap)")
    mean_example_tokens: float = Field(default=0.0, description="mean tokens per example")


class GpuFit(BaseModel):
    """Whether a local job fits one GPU of the catalog, and what it costs there."""

    model_config = ConfigDict(extra="forbid")

    gpu: str
    gpu_memory_gb: float
    required_memory_gb: float
    fits: bool
    max_batch_size: int | None = Field(default=None, description="largest per-device batch that fits")
    duration_hours: float | None = None
    price_per_hour_usd: float | None = None
    cost_usd: float | None = None
    batch_size: int | None = Field(default=None, description="the per-device batch the memory figure is for")
    peak_bf16_tflops: float | None = None


class Estimate(BaseModel):
    """What a job will take before it runs. Every number has its unit in its name.

    ``assumptions`` states what each figure rests on (utilisation, default epochs, price date...);
    ``warnings`` lists what the user should act on (a retiring model, a capped example...).
    """

    model_config = ConfigDict(extra="forbid")

    provider: str
    model: str
    method: str
    adapter: str
    tokens: TokenCount
    epochs: int
    epochs_source: Literal["user", "provider default", "default rule"] = "user"
    billed_tokens: int | None = Field(default=None, description="tokens the provider bills (training x epochs + evals)")
    cost_usd: float | None = Field(default=None, description="training cost in US dollars, None when not billed per token")
    cost_breakdown_usd: dict[str, float] = Field(default_factory=dict)
    price_source: str | None = Field(default=None, description="where the price came from and the date it was read")
    memory_gb: float | None = Field(default=None, description="peak accelerator memory for a local run")
    memory_breakdown_gb: dict[str, float] = Field(default_factory=dict)
    gpus: list[GpuFit] = Field(default_factory=list)
    duration_hours: float | None = None
    assumptions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(
        default_factory=list, description="what stops the job (a retired model, job creation ended...)"
    )
    gpu: str | None = Field(default=None, description="local: the GPU cost_usd and duration_hours refer to")
    inference_usd_per_1m: dict[str, float] = Field(
        default_factory=dict, description="managed fine-tuned model prices per 1M tokens: input, cached_input, output"
    )
    training_flops: float | None = Field(default=None, description="local: total training FLOPs")
