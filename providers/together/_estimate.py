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

from ftkit.estimation.catalog import Catalog, CatalogModel, load_catalog
from ftkit.estimation.types import Estimate, TokenCount
from ftkit.managed import EstimateNotes
from ftkit.spec import JobSpec

from ._quote import ApiQuote, compare_with_quote, price_request, read_quote

__all__ = ["ApiQuote", "billed_parts", "billed_tokens", "compare_with_quote", "estimate", "estimate_checks", "quote", "training_price"]


def billed_tokens(training_tokens: int, validation_tokens: int, *, epochs: int, n_evals: int) -> int:
    """``epochs x training tokens + n_evals x validation tokens``."""
    return epochs * training_tokens + n_evals * validation_tokens


def billed_parts(spec: JobSpec, counts: TokenCount, epochs: int, entry: CatalogModel | None,
                 notes: EstimateNotes) -> dict[str, int]:
    """Together bills every training token once per epoch (each row at ``max_seq_length`` with
    ``packing=False``) and every validation token once per evaluation."""
    catalog = load_catalog("together")
    options = spec.options or {}
    train_tokens = counts.total_tokens
    if options.get("packing", True) is False:
        length = spec.max_seq_length or (entry.context_tokens if entry else None)
        if length:
            train_tokens = counts.examples * length
            notes.assume(f"packing=False: every row is billed at max_seq_length ({length:,} tokens).")
    n_evals = int(options.get("n_evals", catalog.rules.default_n_evals))
    if n_evals and spec.validation is None:
        notes.warn(f"n_evals={n_evals} without validation data: evaluations cost nothing and do nothing.")
    billed = billed_tokens(train_tokens, counts.validation_tokens, epochs=epochs, n_evals=n_evals)
    notes.assume(
        f"Billed tokens = epochs x training tokens + n_evals x validation tokens = {epochs} x {train_tokens:,}"
        f" + {n_evals} x {counts.validation_tokens:,} = {billed:,}."
    )
    return {"training": epochs * train_tokens, "evaluation": n_evals * counts.validation_tokens}


def estimate_checks(spec: JobSpec, catalog: Catalog, entry: CatalogModel | None, notes: EstimateNotes) -> None:
    """Adapters Together trains, and what serving the fine-tune will take (a dedicated endpoint)."""
    adapter = spec.adapter.value
    if adapter not in catalog.rules.adapters:
        notes.error(f"Together trains adapter={adapter!r}? No: it offers {', '.join(catalog.rules.adapters)}.")
    offer = entry.deployment if entry is not None else None
    if offer is not None:
        notes.assume(
            f"Serving the fine-tune needs a dedicated endpoint: {offer.hardware} at ${offer.usd_per_hour:.2f}/hour per "
            f"replica (${offer.usd_per_hour / 60:.4f}/minute), billed per minute while it exists, idle or not "
            f"({offer.cite()}); evaluation deploys on demand and deletes it afterwards."
        )
    else:
        notes.assume(
            "Serving the fine-tune needs a dedicated endpoint billed per minute per replica (no hosting price for this "
            "base in ftkit's catalog; Together's hardware list prices it when deploying)."
        )
    from ._deploy import deployable_problem

    undeployable = deployable_problem(entry.name if entry else spec.model)
    if undeployable:
        notes.warn(undeployable[0].upper() + undeployable[1:])


def training_price(catalog: Catalog, entry: CatalogModel | None, method: str, adapter: str) -> tuple[Any, str]:
    """The per-token price for ``method``/``adapter`` (the model's own, else its size bracket's)."""
    from .provider import TogetherProvider

    return TogetherProvider.training_price(catalog, entry, method, adapter)


def estimate(spec: JobSpec, *, counts: TokenCount | None = None, today: date | None = None) -> Estimate:
    """Tokens, billed tokens and cost of fine-tuning ``spec.model`` on Together (``TogetherProvider.estimate_spec``:
    ManagedProvider's skeleton with :func:`billed_parts` and :func:`estimate_checks`)."""
    from .provider import TogetherProvider

    return TogetherProvider.estimate_spec(spec, counts=counts, today=today)


# -- Together's own quote ----------------------------------------------------------------------------------


def quote(client: Any, spec: JobSpec, *, training_file: str, validation_file: str | None = None,
          limits: Any = None) -> ApiQuote:
    """Ask Together to price ``spec`` (an API key, and files uploaded and validated by Together).

    ``client`` is a ``together.Together``; the body carries every field the SDK marks required (see
    :mod:`ftkit.providers.together._quote`). ``TogetherProvider.estimate(spec, online=True)`` uploads the
    files and calls this for you.
    """
    from ._options import TogetherOptions

    body = price_request(spec, TogetherOptions.model_validate(spec.options or {}), training_file=training_file,
                         validation_file=validation_file, limits=limits,
                         default_epochs=load_catalog("together").rules.default_epochs or 1)
    return read_quote(client.fine_tuning.estimate_price(**body))
