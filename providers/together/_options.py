"""`TogetherOptions`: the Together-only settings a job can pass as ``options={...}``.

Each field maps to one argument of ``client.fine_tuning.create`` (see ``_request.py``); ``None`` means
"Together's default", so ftkit never sends a value the user did not choose.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from ftkit.provider import ProviderOptions

__all__ = ["TogetherOptions"]


class TogetherOptions(ProviderOptions):
    """Together-specific job settings.

    >>> TogetherOptions(n_evals=2, lora_trainable_modules=["q_proj", "v_proj"]).lora_trainable_modules
    'q_proj,v_proj'
    """

    # -- evaluation and checkpoints ------------------------------------------------------------------
    n_evals: int | None = Field(
        default=None, ge=0, description="evaluation passes over the validation file during training (needs validation=)"
    )
    n_checkpoints: int | None = Field(default=None, ge=1, description="checkpoints saved during training (default 1)")

    # -- optimiser and schedule --------------------------------------------------------------------------
    warmup_ratio: float | None = Field(default=None, ge=0, le=1, description="share of steps spent warming up the LR")
    lr_scheduler_type: Literal["linear", "cosine"] | None = Field(
        default=None, description="learning-rate schedule (Together's default: cosine)"
    )
    min_lr_ratio: float | None = Field(default=None, ge=0, le=1, description="final LR as a share of the initial LR")
    scheduler_num_cycles: float | None = Field(default=None, gt=0, description="cosine cycles (default 0.5)")
    max_grad_norm: float | None = Field(default=None, ge=0, description="gradient clipping norm; 0 disables it")
    weight_decay: float | None = Field(default=None, ge=0, description="AdamW weight decay (default 0)")
    gradient_accumulation_steps: int | None = Field(default=None, ge=1, description="micro-batches per optimiser step")
    packing: bool | None = Field(default=None, description="pack several examples into one sequence (default True)")

    # -- what is trained ---------------------------------------------------------------------------------
    train_on_inputs: bool | Literal["auto"] | None = Field(
        default=None,
        description="SFT only: also train on user/prompt tokens; 'auto' masks them for chat and instruction data",
    )
    lora_trainable_modules: str | None = Field(
        default=None, description="LoRA target modules, comma-separated or a list (default 'all-linear')"
    )
    train_vision: bool | None = Field(default=None, description="also train the vision encoder (vision models only)")

    # -- preference tuning (method='dpo') ---------------------------------------------------------------
    dpo_beta: float | None = Field(default=None, gt=0, description="DPO beta: how far the model may move from the reference")
    dpo_normalize_logratios_by_length: bool | None = Field(
        default=None, description="normalise DPO log-ratios by sequence length"
    )
    rpo_alpha: float | None = Field(default=None, ge=0, description="weight of the NLL term added to the DPO loss (RPO)")
    simpo_gamma: float | None = Field(default=None, ge=0, description="SimPO margin; > 0 switches to reference-free SimPO")

    # -- early stopping ---------------------------------------------------------------------------------
    early_stopping: bool | None = Field(
        default=None, description="stop when validation loss stops improving (needs validation= and enough n_evals)"
    )
    early_stopping_patience: int | None = Field(default=None, ge=1, description="non-improving evals tolerated")
    early_stopping_min_delta: float | None = Field(default=None, ge=0, description="smallest loss drop that counts")
    early_stopping_warmup_evals: int | None = Field(default=None, ge=0, description="evals ignored at the start")

    # -- continuing a job --------------------------------------------------------------------------------
    from_checkpoint: str | None = Field(
        default=None,
        description="continue from an earlier job: 'ft-...' or its output name, optionally ':<step>'",
    )

    # -- Weights & Biases (the key comes from WANDB_API_KEY and is never stored) ------------------------
    wandb_project_name: str | None = Field(default=None, description="log to this W&B project (needs WANDB_API_KEY)")
    wandb_name: str | None = Field(default=None, description="W&B run name")
    wandb_entity: str | None = Field(default=None, description="W&B team or user")
    wandb_base_url: str | None = Field(default=None, description="self-hosted W&B server URL")

    @field_validator("lora_trainable_modules", mode="before")
    @classmethod
    def _modules_as_csv(cls, value: object) -> object:
        if isinstance(value, (list, tuple)):
            return ",".join(str(v).strip() for v in value)
        return value

    @model_validator(mode="after")
    def _early_stopping_knobs_need_it(self) -> TogetherOptions:
        knobs = ("early_stopping_patience", "early_stopping_min_delta", "early_stopping_warmup_evals")
        if not self.early_stopping and any(getattr(self, k) is not None for k in knobs):
            raise ValueError("early_stopping_* settings need early_stopping=True")
        return self

    @property
    def uses_wandb(self) -> bool:
        return any(
            v is not None for v in (self.wandb_project_name, self.wandb_name, self.wandb_entity, self.wandb_base_url)
        )

    def dpo_only(self) -> list[str]:
        """The preference-tuning options that were set (they only apply to method='dpo')."""
        names = ("dpo_beta", "dpo_normalize_logratios_by_length", "rpo_alpha", "simpo_gamma")
        return [n for n in names if getattr(self, n) is not None]
