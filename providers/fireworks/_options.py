"""`FireworksOptions`: the Fireworks-only settings of a job (``options={...}``); unknown keys are refused."""

from __future__ import annotations

from pydantic import Field

from ftkit.provider import ProviderOptions

__all__ = ["FireworksOptions"]


class FireworksOptions(ProviderOptions):
    """Settings only Fireworks has (names as in ``supervised_fine_tuning_jobs.create``).

    >>> FireworksOptions(early_stop=True, learning_rate_warmup_steps=10).early_stop
    True
    """

    learning_rate_warmup_steps: int | None = Field(default=None, ge=0, description="linear warm-up steps")
    gradient_accumulation_steps: int | None = Field(default=None, ge=1, description="micro-batches per optimizer step")
    early_stop: bool | None = Field(default=None, description="stop when the validation loss stops improving")
    eval_auto_carveout: bool | None = Field(
        default=None, description="hold out part of the training data for evaluation (when no validation data)")
    batch_size_tokens: int | None = Field(
        default=None, ge=1, description="tokens per batch (Fireworks' batch_size; the neutral batch_size is examples)")
    is_turbo: bool | None = Field(default=None, description="turbo mode (faster, priced differently)")
    region: str | None = Field(default=None, description="training region, e.g. 'US_VIRGINIA_1'")
    warm_start_from: str | None = Field(
        default=None, description="continue training a LoRA addon (accounts/<a>/models/<m>) instead of the base model")
    beta: float | None = Field(default=None, gt=0, description="DPO only: KL penalty (lossConfig.klBeta)")
    wandb_project: str | None = Field(default=None, description="log to this W&B project (key from WANDB_API_KEY)")
    wandb_entity: str | None = Field(default=None, description="W&B team or user")
