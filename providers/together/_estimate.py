"""Pre-flight estimate of a Together fine-tune, offline, and a comparison with Together's own quote.

Together bills ``n_epochs x training tokens + n_evals x validation tokens`` at a rate set by the model (or
its size bracket), LoRA vs full and SFT vs DPO. Tokens are counted with the model's tokenizer and chat
template when they are in the local Hugging Face cache, otherwise approximated (and the estimate says so).

>>> from ftkit.spec import JobSpec
>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 10
>>> est = estimate(JobSpec(provider="together", model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
...                        train=rows, epochs=2))
>>> est.billed_tokens == 2 * est.tokens.total_tokens
True
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel

from ftkit.data.counting import count_for_estimate
from ftkit.estimation.catalog import Catalog, CatalogModel, Price, availability_messages, load_catalog
from ftkit.estimation.types import Estimate, TokenCount
from ftkit.spec import JobSpec

__all__ = ["ApiQuote", "billed_tokens", "compare_with_quote", "estimate", "quote", "training_price"]


def billed_tokens(training_tokens: int, validation_tokens: int, *, epochs: int, n_evals: int) -> int:
    """``epochs x training tokens + n_evals x validation tokens``."""
    return epochs * training_tokens + n_evals * validation_tokens


def training_price(catalog: Catalog, entry: CatalogModel | None, method: str, adapter: str) -> tuple[Price | None, str]:
    """The per-token price for ``method``/``adapter``: the model's own, else its size bracket's."""
    if entry is not None:
        own = entry.training_price(method, adapter)
        if own is not None:
            return own, f"{entry.name}'s own {method}/{adapter} price"
        if entry.parameters_b is not None:
            bracket = catalog.bracket_for(entry.parameters_b)
            if bracket is not None and f"{method}/{adapter}" in bracket.prices:
                return (
                    bracket.prices[f"{method}/{adapter}"],
                    f"{method}/{adapter} price of the {bracket.name} bracket ({entry.parameters_b:g}B parameters)",
                )
    return None, ""


def estimate(spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None) -> Estimate:
    """Tokens, billed tokens and cost of fine-tuning ``spec.model`` on Together."""
    catalog = load_catalog("together")
    entry = catalog.find(spec.model)
    method, adapter = spec.method.value, spec.adapter.value
    options = spec.options or {}
    counts, warnings = count_for_estimate(spec, "together", counts)
    errors, dated_warnings = availability_messages("together", spec.model, today)
    warnings += dated_warnings
    assumptions: list[str] = []
    assumptions.append(f"Tokens counted with {counts.tokenizer}, after the chat template (what Together bills).")

    packing = options.get("packing", True)
    train_tokens = counts.total_tokens
    if packing is False:
        length = spec.max_seq_length or (entry.context_tokens if entry else None)
        if length:
            train_tokens = counts.examples * length
            assumptions.append(f"packing=False: every row is billed at max_seq_length ({length:,} tokens).")

    if spec.epochs is not None:
        epochs, epochs_source = spec.epochs, "user"
    else:
        epochs, epochs_source = catalog.rules.default_epochs or 1, "provider default"
        assumptions.append(f"epochs not set: Together's default n_epochs={epochs}.")
    n_evals = int(options.get("n_evals", catalog.rules.default_n_evals))
    if n_evals and spec.validation is None:
        warnings.append(f"n_evals={n_evals} without validation data: evaluations cost nothing and do nothing.")
    billed = billed_tokens(train_tokens, counts.validation_tokens, epochs=epochs, n_evals=n_evals)
    assumptions.append(
        f"Billed tokens = epochs x training tokens + n_evals x validation tokens = {epochs} x {train_tokens:,}"
        f" + {n_evals} x {counts.validation_tokens:,} = {billed:,}."
    )

    if adapter not in catalog.rules.adapters:
        errors.append(f"Together trains adapter={adapter!r}? No: it offers {', '.join(catalog.rules.adapters)}.")
    cost = price_source = None
    breakdown: dict[str, float] = {}
    price, how = training_price(catalog, entry, method, adapter if adapter != "qlora" else "lora")
    if price is not None and price.usd_per_1m_tokens is not None:
        rate = price.usd_per_1m_tokens
        breakdown["training"] = round(epochs * train_tokens / 1e6 * rate, 4)
        if n_evals:
            breakdown["evaluation"] = round(n_evals * counts.validation_tokens / 1e6 * rate, 4)
        cost = round(sum(breakdown.values()), 4)
        if catalog.rules.minimum_charge_usd:
            cost = max(cost, catalog.rules.minimum_charge_usd)
        price_source = price.cite()
        assumptions.append(f"Price ${rate:.2f} per 1M tokens: {how}.")
    elif entry is None:
        warnings.append(
            f"{spec.model!r} is not in ftkit's Together catalog, so it cannot be priced; add it (with "
            "parameters_b) to $FTKIT_HOME/catalog/together.yaml."
        )
    else:
        warnings.append(f"No {method}/{adapter} price for {entry.name} in the catalog.")
    assumptions.append(
        "Fine-tuned models are served on dedicated endpoints billed per minute, not per token; "
        "`ftkit plan --monthly-tokens` compares self-hosting instead."
    )

    return Estimate(
        provider="together",
        model=entry.name if entry else spec.model,
        method=method,
        adapter=adapter,
        tokens=counts,
        epochs=epochs,
        epochs_source=epochs_source,
        billed_tokens=billed,
        cost_usd=cost,
        cost_breakdown_usd=breakdown,
        price_source=price_source,
        assumptions=assumptions,
        warnings=warnings,
        errors=errors,
    )


# -- Together's own quote ----------------------------------------------------------------------------------


class ApiQuote(BaseModel):
    """Together's ``POST /v1/fine-tunes/estimate-price`` answer, for files already uploaded."""

    available: bool
    total_usd: float | None = None
    train_tokens: int | None = None
    eval_tokens: int | None = None
    allowed_to_proceed: bool | None = None
    unavailable_reason: str | None = None


def quote(client: Any, spec: JobSpec, *, training_file: str, validation_file: str | None = None) -> ApiQuote:
    """Ask Together to price ``spec`` (needs an API key and uploaded, validated files).

    ``client`` is a ``together.Together``; the Together provider calls this with its own client.
    """
    lora = spec.adapter.value != "full"
    kwargs: dict[str, Any] = {
        "training_file": training_file,
        "model": spec.model,
        "n_epochs": spec.epochs or load_catalog("together").rules.default_epochs or 1,
        "n_evals": int((spec.options or {}).get("n_evals", 0)),
        "training_method": {"method": spec.method.value},
        "training_type": {"type": "Lora", "lora_r": spec.lora_r or 8} if lora else {"type": "Full"},
    }
    if spec.lora_r is None and lora:
        kwargs["training_type"].pop("lora_r")
    if validation_file:
        kwargs["validation_file"] = validation_file
    raw = client.fine_tuning.estimate_price(**kwargs)
    data = raw.to_dict() if hasattr(raw, "to_dict") else dict(raw)
    return ApiQuote(
        available=bool(data.get("estimation_available")),
        total_usd=data.get("estimated_total_price"),
        train_tokens=_int_or_none(data.get("estimated_train_token_count")),
        eval_tokens=_int_or_none(data.get("estimated_eval_token_count")),
        allowed_to_proceed=data.get("allowed_to_proceed"),
        unavailable_reason=data.get("unavailable_reason"),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else round(float(value))


def compare_with_quote(est: Estimate, api: ApiQuote, *, tolerance: float = 0.10) -> Estimate:
    """``est`` with Together's quote in its assumptions, and a warning when they differ by more than
    ``tolerance`` (relative) in tokens or dollars."""
    notes = list(est.assumptions)
    warnings = list(est.warnings)
    if not api.available:
        warnings.append(f"Together could not quote this job: {api.unavailable_reason or 'no reason given'}.")
        return est.model_copy(update={"warnings": warnings})
    notes.append(
        f"Together's own quote: ${api.total_usd} for {api.train_tokens:,} training tokens "
        f"(ftkit: ${est.cost_usd} for {est.tokens.total_tokens:,})."
    )

    def off(ours: float | None, theirs: float | None) -> bool:
        return bool(ours is not None and theirs and abs(ours - theirs) / theirs > tolerance)

    if off(est.tokens.total_tokens, api.train_tokens) or off(est.cost_usd, api.total_usd):
        warnings.append(
            f"ftkit's estimate differs from Together's quote by more than {tolerance:.0%}; trust Together's "
            "figure (it counted the uploaded file)."
        )
    if api.allowed_to_proceed is False:
        warnings.append("Together says this job exceeds your account's limit (allowed_to_proceed=false).")
    return est.model_copy(update={"assumptions": notes, "warnings": warnings})
