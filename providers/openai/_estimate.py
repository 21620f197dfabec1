"""Pre-flight estimate of an OpenAI fine-tune: tokens, billed tokens, dollars and availability, offline.

>>> from ftkit.spec import JobSpec
>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 10
>>> est = estimate(JobSpec(provider="openai", model="gpt-4o-mini", train=rows))
>>> est.epochs, est.epochs_source, est.billed_tokens
(10, 'default rule', 1600)
"""

from __future__ import annotations

from datetime import date

from ftkit.data.counting import count_for_estimate
from ftkit.estimation.catalog import availability_messages, load_catalog
from ftkit.estimation.types import Estimate, TokenCount
from ftkit.spec import JobSpec

__all__ = ["billed_tokens", "estimate"]


def billed_tokens(training_tokens: int, epochs: int) -> int:
    """OpenAI bills every token of the training file once per epoch; validation data is free."""
    return training_tokens * epochs


def estimate(spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None) -> Estimate:
    """Tokens, billed tokens and cost of fine-tuning ``spec.model`` on OpenAI, with every assumption."""
    catalog = load_catalog("openai")
    entry = catalog.find(spec.model)
    method, adapter = spec.method.value, spec.adapter.value
    assumptions: list[str] = []
    warnings: list[str] = []
    errors: list[str] = []

    cap = entry.max_tokens_per_example if entry else None
    counts, _ = count_for_estimate(spec, "openai", counts, max_tokens_per_example=cap)
    assumptions.append(
        f"Tokens counted with {counts.tokenizer}: 3 per message, 1 more per name, 3 to prime the reply; "
        "tool definitions and tool calls as compact JSON; images not counted. OpenAI calls this count "
        "approximate; the job's trained_tokens is the billed figure."
    )
    if cap:
        assumptions.append(f"Examples above {cap:,} tokens (the model's per-example cap) are counted at the cap.")
    if counts.capped_examples:
        warnings.append(
            f"{counts.capped_examples} example(s) exceed {entry.name}'s {cap:,}-token limit per example; "  # type: ignore[union-attr]
            "OpenAI truncates or rejects them. Shorten or split them."
        )

    rule = catalog.rules.default_epoch_rule
    if spec.epochs is not None:
        epochs, epochs_source = spec.epochs, "user"
    elif rule is not None:
        epochs, epochs_source = rule.epochs_for(counts.examples), "default rule"
        assumptions.append(
            f"epochs not set: OpenAI's 'auto' approximated by the cookbook rule (start at {rule.target_epochs}; "
            f"raise to reach {rule.min_target_examples} example-passes, at most {rule.max_epochs}; lower to stay "
            f"under {rule.max_target_examples:,}, at least {rule.min_epochs}): {epochs} for "
            f"{counts.examples:,} examples."
        )
    else:
        epochs, epochs_source = 3, "provider default"

    billed = billed_tokens(counts.total_tokens, epochs)
    assumptions.append(
        f"Billed tokens = training tokens x epochs = {counts.total_tokens:,} x {epochs} = {billed:,}; "
        "validation tokens are not billed."
    )
    if counts.examples < catalog.rules.min_examples:
        errors.append(
            f"OpenAI needs at least {catalog.rules.min_examples} training examples; the file has {counts.examples}."
        )

    cost = price_source = None
    breakdown: dict[str, float] = {}
    inference: dict[str, float] = {}
    if entry is None:
        warnings.append(
            f"{spec.model!r} is not in ftkit's OpenAI catalog, so it cannot be priced; add it to "
            "$FTKIT_HOME/catalog/openai.yaml (see docs/estimation.md)."
        )
    else:
        if entry.methods and method not in entry.methods:
            errors.append(f"{entry.name} cannot be fine-tuned with method={method!r} (it supports: "
                          f"{', '.join(entry.methods)}).")
        price = entry.training_price(method, adapter)
        if price is not None and price.usd_per_1m_tokens is not None:
            cost = round(billed / 1e6 * price.usd_per_1m_tokens, 4)
            breakdown["training"] = cost
            price_source = price.cite()
            assumptions.append(f"Training price ${price.usd_per_1m_tokens:.2f} per 1M tokens for {entry.name}.")
        elif price is not None and price.usd_per_hour is not None:
            warnings.append(f"{entry.name} is billed by the hour (${price.usd_per_hour:.2f}/h), not per token.")
        inference = entry.inference_prices()
        if inference:
            assumptions.append(
                "Fine-tuned inference per 1M tokens: "
                + ", ".join(f"{k.replace('_', ' ')} ${v:g}" for k, v in inference.items())
                + "."
            )
    dated_errors, dated_warnings = availability_messages("openai", spec.model, today)
    errors += dated_errors
    warnings += dated_warnings

    return Estimate(
        provider="openai",
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
        inference_usd_per_1m=inference,
    )
