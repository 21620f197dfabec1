"""`AzureOptions`: OpenAI's job options plus the Azure training tier (``trainingType``)."""

from __future__ import annotations

from typing import Literal

from ftkit.providers.openai._options import OpenAIOptions
from pydantic import Field

__all__ = ["TIERS", "AzureOptions"]

#: ``trainingType`` values (Microsoft's samples send "standard", "globalstandard"/"globalStandard", "developer")
TIERS = ("standard", "globalstandard", "developer")


class AzureOptions(OpenAIOptions):
    """OpenAI's options, plus where Azure trains.

    ``training_type``: ``standard`` (regional, keeps data in the resource's region), ``globalstandard``
    (10-30% cheaper, no data residency) or ``developer`` (half of global, pre-emptible capacity that may be
    paused and resumed by Azure, no data residency).

    >>> AzureOptions(training_type="developer").training_type
    'developer'
    """

    training_type: Literal["standard", "globalstandard", "developer"] = Field(
        default="standard", description="Azure training tier: standard (regional), globalstandard or developer")
