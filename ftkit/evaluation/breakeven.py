"""Break-even volume between self-hosting the local candidate and each managed row (``ftkit.estimation.breakeven``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ftkit.errors import FtkitError

if TYPE_CHECKING:
    from ftkit.evaluation.results import ComparisonRow

__all__ = ["add_breakeven"]

#: the volume used for the break-even computation when the user gave none (the crossing does not depend on it)
_REFERENCE_MONTHLY_TOKENS = 10e6


def add_breakeven(rows: list[ComparisonRow], monthly_tokens: float | None, notes: list[str]) -> None:
    """Fill ``breakeven_tokens_per_month`` on managed rows priced per token, against the first local
    (self-hosted) row; rows without per-token prices get a note saying why.

    The output share of tokens is the one measured on the test set, so the blended managed price
    matches this workload rather than a generic 25% guess.
    """
    local = next((r for r in rows if r.hosting == "self-hosted" and r.model), None)
    if local is None:
        return
    from ftkit.estimation import breakeven

    for row in rows:
        if row.hosting == "self-hosted" or row.price is None or not row.model:
            continue
        prompt, completion = row.prompt_tokens_per_example, row.completion_tokens_per_example
        share = completion / (prompt + completion) if prompt and completion is not None else 0.25
        try:
            result = breakeven(
                monthly_tokens=monthly_tokens or _REFERENCE_MONTHLY_TOKENS, managed_model=row.model,
                managed_provider=row.provider,
                self_hosted_model=local.model, output_share=share,
            )
        except FtkitError as e:
            notes.append(f"break-even for {row.name}: {e}")
            continue
        row.breakeven_tokens_per_month = result.breakeven_tokens_per_month
        row.notes.append(
            f"break-even against self-hosting {local.name} on one {result.gpu}: "
            + (f"{result.breakeven_tokens_per_month:,.0f} tokens/month" if result.breakeven_tokens_per_month
               else "none within one GPU's capacity")
        )
