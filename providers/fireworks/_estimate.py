"""Pre-flight estimate of a Fireworks fine-tune, offline: tokens, billed tokens, dollars, hosting per hour.

Fireworks bills SFT by "the total number of tokens in your fine-tuning dataset (dataset size * number of
epochs)", at a rate set by the base model's size bracket; serving the LoRA fine-tune needs an on-demand
deployment billed per GPU-second.

>>> from ftkit.spec import JobSpec
>>> rows = [{"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}] * 10
>>> est = estimate(JobSpec(provider="fireworks", model="llama-v3p1-8b-instruct", train=rows, epochs=2))
>>> est.billed_tokens == 2 * est.tokens.total_tokens, est.cost_usd is not None
(True, True)
"""

from __future__ import annotations

from datetime import date

from ftkit.data.counting import count_for_estimate
from ftkit.estimation.catalog import availability_messages, load_catalog
from ftkit.estimation.types import Estimate, TokenCount
from ftkit.spec import JobSpec

from ._client import PROVIDER

__all__ = ["estimate"]


def estimate(spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None) -> Estimate:
    catalog = load_catalog(PROVIDER)
    entry = catalog.find(spec.model)
    method, adapter = spec.method.value, spec.adapter.value
    counts, warnings = count_for_estimate(spec, PROVIDER, counts)
    errors, dated = availability_messages(PROVIDER, spec.model, today)
    warnings += dated
    assumptions = [f"Tokens counted with {counts.tokenizer}, after the chat template."]
    if counts.examples < catalog.rules.min_examples:
        errors.append(f"Fireworks needs at least {catalog.rules.min_examples} training examples; "
                      f"the file has {counts.examples}.")  # fmt: skip
    if spec.epochs is not None:
        epochs, epochs_source = spec.epochs, "user"
    else:
        epochs, epochs_source = catalog.rules.default_epochs or 1, "provider default"
        assumptions.append(f"epochs not set: assumed Fireworks' default of {epochs} (set epochs= to be sure).")
    billed = counts.total_tokens * epochs
    assumptions.append(f"Billed tokens = dataset tokens x epochs = {counts.total_tokens:,} x {epochs} = {billed:,}; "
                       "evaluation data is not billed.")  # fmt: skip
    cost = price_source = None
    breakdown: dict[str, float] = {}
    price = entry.training_price(method, adapter) if entry else None
    how = f"{entry.name}'s own price" if price and entry else ""
    if price is None and entry is not None and entry.parameters_b is not None:
        bracket = catalog.bracket_for(entry.parameters_b)
        if bracket is not None:
            price = bracket.prices.get(f"{method}/{adapter}")
            how = f"the {bracket.name} bracket ({entry.parameters_b:g}B parameters)"
    if price is not None and price.usd_per_1m_tokens is not None:
        breakdown["training"] = round(billed / 1e6 * price.usd_per_1m_tokens, 4)
        cost = breakdown["training"]
        price_source = price.cite()
        assumptions.append(f"Price ${price.usd_per_1m_tokens:.2f} per 1M training tokens: {how}.")
    elif entry is None:
        warnings.append(f"{spec.model!r} is not in ftkit's Fireworks catalog, so it cannot be priced; add it (with "
                        "parameters_b) to $FTKIT_HOME/catalog/fireworks.yaml.")  # fmt: skip
    else:
        warnings.append(f"No {method}/{adapter} price for {entry.name} in the catalog.")
    offer = entry.deployment if entry else None
    if offer is not None:
        assumptions.append(f"Serving the fine-tune needs an on-demand deployment: {offer.hardware} at "
                           f"${offer.usd_per_hour:.2f}/hour per replica, billed per GPU-second while it exists "
                           f"({offer.cite()}); evaluation deploys on demand and deletes it afterwards.")  # fmt: skip
    else:
        assumptions.append("Serving the fine-tune needs an on-demand deployment billed per GPU-second (no hosting "
                           "price for this base in ftkit's catalog).")  # fmt: skip
    if adapter not in catalog.rules.adapters:
        errors.append(f"Fireworks fine-tunes adapter={adapter!r}? No: it trains {', '.join(catalog.rules.adapters)}.")
    return Estimate(
        provider=PROVIDER, model=entry.name if entry else spec.model, method=method, adapter=adapter, tokens=counts,
        epochs=epochs, epochs_source=epochs_source, billed_tokens=billed, cost_usd=cost,
        cost_breakdown_usd=breakdown, price_source=price_source, assumptions=assumptions, warnings=warnings,
        errors=errors,
    )
