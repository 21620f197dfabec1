"""Fireworks AI: supervised LoRA fine-tuning through the ``fireworks-ai`` SDK (``pip install 'ftkit[fireworks]'``)."""

from ftkit.providers.fireworks.provider import FireworksProvider

__all__ = ["FireworksProvider"]
