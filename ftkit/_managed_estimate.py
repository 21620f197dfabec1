"""The estimate skeleton of :class:`ftkit.managed.ManagedProvider`: one order of steps, provider hooks between.

Tokens are counted with the provider's ``token_counter`` (through ``count_for_estimate``), epochs come from
the user, the catalog's default-epoch rule or its default, billed tokens from the provider's
``billed_parts``, the price from its ``catalog()`` and the availability dates from the same catalog.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from ftkit.data.counting import count_for_estimate, count_spec
from ftkit.estimation.types import Estimate, TokenCount

if TYPE_CHECKING:
    from ftkit.estimation.catalog import Catalog
    from ftkit.managed import ManagedProvider
    from ftkit.spec import JobSpec

__all__ = ["epochs_for", "estimate_spec"]


def epochs_for(spec: JobSpec, counts: TokenCount, catalog: Catalog, notes: Any) -> tuple[int, str]:
    """``(epochs, source)``: the user's, else the catalog's default-epoch rule, else the catalog's default."""
    if spec.epochs is not None:
        return spec.epochs, "user"
    rule = catalog.rules.default_epoch_rule
    if rule is not None:
        epochs = rule.epochs_for(counts.examples)
        notes.assume(
            f"epochs not set: the service's 'auto' approximated by the catalog's default-epoch rule ({rule.source}: "
            f"start at {rule.target_epochs}; raise to reach {rule.min_target_examples} example-passes, at most "
            f"{rule.max_epochs}; lower to stay under {rule.max_target_examples:,}, at least {rule.min_epochs}): "
            f"{epochs} for {counts.examples:,} examples."
        )
        return epochs, "default rule"
    epochs = catalog.rules.default_epochs or 1
    notes.assume(f"epochs not set: the service's default n_epochs={epochs}.")
    return epochs, "provider default"


def estimate_spec(
    provider: type[ManagedProvider], spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None
) -> Estimate:
    from ftkit.managed import EstimateNotes

    today = today or date.today()
    catalog = provider.catalog()
    entry = catalog.find(spec.model)
    method, adapter = spec.method.value, spec.adapter.value
    title = provider.title()
    notes = EstimateNotes()

    cap = provider.per_example_cap(entry)
    if counts is None:  # the class's own counter, so an unregistered subclass counts as it declares
        counts = count_spec(spec, provider.token_counter(spec.model), max_tokens_per_example=cap)
    counts, count_warnings = count_for_estimate(spec, provider.name, counts)
    notes.warnings += count_warnings
    provider.count_notes(spec, counts, entry, notes)
    if cap:
        notes.assume(f"Examples above {cap:,} tokens (the model's per-example cap) are counted at the cap.")
        if counts.capped_examples:
            notes.warn(f"{counts.capped_examples} example(s) exceed {spec.model}'s {cap:,}-token limit per example; "
                       f"{title} truncates or rejects them. Shorten or split them.")
    if counts.examples < catalog.rules.min_examples:
        notes.error(f"{title} needs at least {catalog.rules.min_examples} training examples; "
                    f"the file has {counts.examples}.")

    epochs, epochs_source = epochs_for(spec, counts, catalog, notes)
    parts = provider.billed_parts(spec, counts, epochs, entry, notes)
    billed = sum(parts.values())

    cost = price_source = None
    breakdown: dict[str, float] = {}
    inference: dict[str, float] = {}
    price, how = provider.training_price(catalog, entry, method, adapter)
    if price is not None and price.usd_per_1m_tokens is not None:
        rate = price.usd_per_1m_tokens
        breakdown = {part: round(tokens / 1e6 * rate, 4) for part, tokens in parts.items() if tokens}
        cost = round(sum(breakdown.values()), 4)
        if catalog.rules.minimum_charge_usd:
            cost = max(cost, catalog.rules.minimum_charge_usd)
        price_source = price.cite()
        notes.assume(f"Price ${rate:.2f} per 1M tokens: {how}.")
    elif price is not None and price.usd_per_hour is not None:
        notes.warn(f"{spec.model} is billed by the hour (${price.usd_per_hour:.2f}/h), not per token.")
    elif entry is None:
        notes.warn(f"{spec.model!r} is not in ftkit's {title} catalog, so it cannot be priced; add it (with its "
                   f"prices, or parameters_b for a size bracket) to $FTKIT_HOME/catalog/{provider.name}.yaml "
                   "(see docs/estimation.md).")
    else:
        notes.warn(f"No {method}/{adapter} price for {entry.name} in the catalog.")
    if entry is not None:
        if entry.methods and method not in entry.methods:
            notes.error(f"{entry.name} cannot be fine-tuned with method={method!r} (it supports: "
                        f"{', '.join(entry.methods)}).")
        inference = entry.inference_prices()
        if inference:
            notes.assume("Fine-tuned inference per 1M tokens: "
                         + ", ".join(f"{k.replace('_', ' ')} ${v:g}" for k, v in inference.items()) + ".")

    provider.estimate_checks(spec, counts, catalog, entry, notes, today=today)
    dated_errors, dated_warnings = provider.availability(spec.model, today)
    notes.errors += dated_errors
    notes.warnings += dated_warnings

    return Estimate(
        provider=provider.name,
        model=entry.name if entry else spec.model,
        method=method,
        adapter=adapter,
        tokens=counts,
        epochs=epochs,
        epochs_source=epochs_source,  # type: ignore[arg-type]
        billed_tokens=billed,
        cost_usd=cost,
        cost_breakdown_usd=breakdown,
        price_source=price_source,
        assumptions=notes.assumptions,
        warnings=notes.warnings,
        errors=notes.errors,
        inference_usd_per_1m=inference,
    )
