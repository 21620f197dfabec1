"""Together AI provider: ``FineTuneJob(provider="together", ...)``. Needs ``pip install 'ftkit[together]'``.

The SDK is imported only when the provider first talks to Together, so listing or checking the
provider stays light. See ``docs/providers/together.md`` for the settings mapping.
"""

from ftkit.providers.together._options import TogetherOptions
from ftkit.providers.together.provider import TogetherProvider

__all__ = ["TogetherOptions", "TogetherProvider"]
