"""`OpenAIOptions`: the OpenAI-only settings of a job (``options={...}``); unknown keys are refused."""

from __future__ import annotations

from pydantic import Field, field_validator

from ftkit.provider import ProviderOptions

__all__ = ["JOB_TAG", "OpenAIOptions"]

#: metadata key ftkit tags every job with (its own job id), so a lost create can be found by listing
JOB_TAG = "ftkit_job_id"


class OpenAIOptions(ProviderOptions):
    """Settings only OpenAI has.

    >>> OpenAIOptions(learning_rate_multiplier=0.5, wandb_project="ftkit").wandb_project
    'ftkit'
    """

    learning_rate_multiplier: float | None = Field(
        default=None, gt=0, le=1000,
        description="scales OpenAI's own learning rate (OpenAI takes no absolute learning rate)",
    )
    beta: float | None = Field(
        default=None, gt=0, le=2, description="DPO only: how far the model may move from the reference model",
    )
    wandb_project: str | None = Field(default=None, min_length=1, description="log the run to this W&B project")
    wandb_entity: str | None = Field(default=None, description="W&B team or user (needs wandb_project)")
    wandb_name: str | None = Field(default=None, description="W&B run name (needs wandb_project)")
    wandb_tags: list[str] = Field(default_factory=list, description="extra W&B tags (needs wandb_project)")
    metadata: dict[str, str] = Field(
        default_factory=dict, description="up to 15 key/value pairs stored on the OpenAI job",
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_limits(cls, value: dict[str, str]) -> dict[str, str]:
        if JOB_TAG in value:
            raise ValueError(f"the key {JOB_TAG!r} is reserved: ftkit tags each job with its own id there")
        if len(value) > 15:
            raise ValueError("at most 15 pairs (OpenAI allows 16 and ftkit uses one to find its jobs)")
        for key, item in value.items():
            if len(key) > 64 or len(item) > 512:
                raise ValueError(f"{key!r}: keys are at most 64 characters and values at most 512")
        return value

    def wandb_problems(self) -> list[str]:
        if self.wandb_project is None and (self.wandb_entity or self.wandb_name or self.wandb_tags):
            return ["options.wandb_entity/wandb_name/wandb_tags need options.wandb_project"]
        return []
