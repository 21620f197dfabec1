"""The OpenAI provider (``provider="openai"``): SFT and DPO on OpenAI through the official SDK.

Importing this package does not import ``openai``; the SDK is loaded on the first API call.
"""

from .provider import OpenAIProvider

__all__ = ["OpenAIProvider"]
