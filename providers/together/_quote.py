"""Together's own price quote (``POST /v1/fine-tunes/estimate-price``), asked after the files are uploaded and
validated, next to ftkit's offline estimate; a quote Together says the account cannot afford stops the job.

The body carries every field the SDK's ``FineTuningEstimatePriceParams`` marks ``Required``:
``training_method.train_on_inputs`` for SFT, ``training_type.lora_r`` and ``training_type.lora_alpha`` for
LoRA. Unset values are resolved the way ``fine_tuning.create`` resolves them (rank: the model's
``default_rank`` from its limits; alpha: 2 x rank, cast to int; ``train_on_inputs="auto"``), so the quote
prices exactly the job that is then created.

Tokens: ftkit reads ``estimated_train_token_count`` as the tokens billed for all epochs (the quote's price is
that count times the per-token rate; Together documents no other reading) and ``estimated_eval_token_count``
as all evaluations, and compares their sum with ftkit's billed tokens (``epochs x training + n_evals x
validation``). Together's quote is authoritative: it counted the uploaded file with the model's tokenizer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ftkit.errors import ProviderError
from ftkit.spec import Adapter, JobSpec, Method

from ._client import PROVIDER

if TYPE_CHECKING:
    from ftkit.estimation.types import Estimate

    from ._options import TogetherOptions

__all__ = ["ApiQuote", "compare_with_quote", "ensure_allowed", "price_request", "quote_line", "read_quote"]

#: the SDK's rank when neither the user nor the model's limits give one (together 3.1.1 falls back to 8)
FALLBACK_RANK = 8


class ApiQuote(BaseModel):
    """Together's ``estimate-price`` answer for files already uploaded."""

    available: bool
    total_usd: float | None = None
    train_tokens: int | None = None
    eval_tokens: int | None = None
    allowed_to_proceed: bool | None = None
    user_limit_usd: float | None = None
    unavailable_reason: str | None = None

    @property
    def billed_tokens(self) -> int | None:
        if self.train_tokens is None:
            return None
        return self.train_tokens + (self.eval_tokens or 0)


def _lora_rank(spec: JobSpec, limits: Any) -> int:
    if spec.lora_r is not None:
        return spec.lora_r
    lora = getattr(limits, "lora_training", None)
    return int(getattr(lora, "default_rank", None) or FALLBACK_RANK)


def price_request(
    spec: JobSpec,
    options: TogetherOptions,
    *,
    training_file: str,
    validation_file: str | None = None,
    limits: Any = None,
    default_epochs: int = 1,
) -> dict[str, Any]:
    """Keyword arguments of ``client.fine_tuning.estimate_price`` for ``spec``, every required field set.

    >>> from ftkit.providers.together._options import TogetherOptions
    >>> body = price_request(JobSpec(provider="together", model="Qwen/Qwen3-8B", train="t.jsonl", lora_r=16),
    ...                      TogetherOptions(), training_file="file-1")
    >>> body["training_type"], body["training_method"]
    ({'type': 'Lora', 'lora_r': 16, 'lora_alpha': 32}, {'method': 'sft', 'train_on_inputs': 'auto'})
    """
    body: dict[str, Any] = {
        "training_file": training_file,
        "n_epochs": spec.epochs or default_epochs,
        "n_evals": int(options.n_evals or 0),
    }
    if options.from_checkpoint:
        body["from_checkpoint"] = options.from_checkpoint
    else:
        body["model"] = spec.model
    if validation_file:
        body["validation_file"] = validation_file
    if spec.method == Method.DPO:
        method: dict[str, Any] = {"method": "dpo"}
        for name in ("dpo_beta", "dpo_normalize_logratios_by_length", "rpo_alpha", "simpo_gamma"):
            if getattr(options, name) is not None:
                method[name] = getattr(options, name)
    else:
        method = {"method": "sft", "train_on_inputs": options.train_on_inputs if options.train_on_inputs is not None
                  else "auto"}  # fmt: skip
    body["training_method"] = method
    if spec.adapter == Adapter.FULL:
        body["training_type"] = {"type": "Full"}
    else:
        rank = _lora_rank(spec, limits)
        alpha = round(spec.lora_alpha) if spec.lora_alpha is not None else 2 * rank
        kind: dict[str, Any] = {"type": "Lora", "lora_r": rank, "lora_alpha": int(alpha)}
        if spec.lora_dropout is not None:
            kind["lora_dropout"] = spec.lora_dropout
        if options.lora_trainable_modules is not None:
            kind["lora_trainable_modules"] = options.lora_trainable_modules
        body["training_type"] = kind
    return body


def _number(value: Any) -> int | None:
    return None if value is None else round(float(value))


def read_quote(raw: Any) -> ApiQuote:
    """The SDK's ``FineTuningEstimatePriceResponse`` (either union member) as an :class:`ApiQuote`."""
    data = raw.to_dict() if hasattr(raw, "to_dict") else dict(raw)
    return ApiQuote(
        available=bool(data.get("estimation_available")),
        total_usd=data.get("estimated_total_price"),
        train_tokens=_number(data.get("estimated_train_token_count")),
        eval_tokens=_number(data.get("estimated_eval_token_count")),
        allowed_to_proceed=data.get("allowed_to_proceed"),
        user_limit_usd=data.get("user_limit"),
        unavailable_reason=data.get("unavailable_reason"),
    )


def quote_line(offline: Estimate | None, api: ApiQuote) -> str:
    """One line for the job log: Together's figure, ftkit's, the difference, and which one counts."""
    if not api.available:
        return f"Together could not quote this job ({api.unavailable_reason or 'no reason given'}); ftkit's offline " \
               f"estimate is ${offline.cost_usd if offline else '?'}."
    ours = offline.cost_usd if offline is not None else None
    theirs = api.total_usd
    tokens = f"{api.billed_tokens:,} billed tokens" if api.billed_tokens is not None else "tokens not given"
    line = f"Together's quote: ${theirs:.4f} for {tokens} (authoritative: Together counted the uploaded file)"
    if ours is not None and theirs is not None:
        diff = theirs - ours
        share = f", {diff / ours:+.0%}" if ours else ""
        billed = f" for {offline.billed_tokens:,} tokens" if offline and offline.billed_tokens is not None else ""
        line += f"; ftkit's offline estimate ${ours:.4f}{billed}, difference {diff:+.4f} USD{share}"
    return line + "."


def compare_with_quote(est: Estimate, api: ApiQuote, *, tolerance: float = 0.10) -> Estimate:
    """``est`` as Together prices it: Together's total and billed tokens (authoritative), ftkit's offline figures
    kept in the assumptions with the difference, and a warning when they differ by more than ``tolerance``."""
    notes, warnings = list(est.assumptions), list(est.warnings)
    if not api.available:
        warnings.append(f"Together could not quote this job: {api.unavailable_reason or 'no reason given'}; "
                        "the figures are ftkit's offline estimate.")  # fmt: skip
        return est.model_copy(update={"warnings": warnings})
    notes.append(quote_line(est, api))

    def off(ours: float | None, theirs: float | None) -> bool:
        return bool(ours is not None and theirs and abs(ours - theirs) / theirs > tolerance)

    if off(est.billed_tokens, api.billed_tokens) or off(est.cost_usd, api.total_usd):
        warnings.append(f"ftkit's offline estimate differs from Together's quote by more than {tolerance:.0%}; "
                        "Together's figure is the one billed.")  # fmt: skip
    if api.allowed_to_proceed is False:
        warnings.append(refusal(api))
    return est.model_copy(update={
        "assumptions": notes, "warnings": warnings, "cost_usd": api.total_usd,
        "billed_tokens": api.billed_tokens if api.billed_tokens is not None else est.billed_tokens,
        "price_source": "Together's own quote (POST /v1/fine-tunes/estimate-price)",
    })


def refusal(api: ApiQuote) -> str:
    limit = f" (your limit: ${api.user_limit_usd:,.2f})" if api.user_limit_usd is not None else ""
    return (
        f"Together will not run this job: its quote of ${api.total_usd} exceeds what the account may spend{limit} "
        "(allowed_to_proceed=false). Add credits or raise the limit at https://api.together.ai/settings/billing, "
        "or make the job smaller (fewer epochs or examples), then start again."
    )


def ensure_allowed(api: ApiQuote) -> None:
    """Raise before the job is created when Together says the account may not proceed."""
    if api.available and api.allowed_to_proceed is False:
        raise ProviderError(refusal(api), provider=PROVIDER, status_code=None)
