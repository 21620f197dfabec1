"""Azure OpenAI (Microsoft Foundry): fine-tuning GPT models through ``openai.AzureOpenAI`` (``pip install 'ftkit[azure]'``)."""

from ftkit.providers.azure.provider import AzureProvider

__all__ = ["AzureProvider"]
