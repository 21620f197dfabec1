"""The models the OpenAI emulator knows: which fine-tune, which chat, their per-example caps and shutdown dates.

Sources (and the assumptions marked as such):

* fine-tunable snapshots, DPO support and dates: ftkit's OpenAI catalog (``providers/openai/catalog.yaml``,
  OpenAI fine-tuning guide and deprecations page as read 2026-11-22): gpt-4o-mini-2024-07-18,
  gpt-4o-2024-08-06, gpt-4.1-2025-04-14 and gpt-4.1-mini-2025-04-14 shut down 2027-01-14;
  gpt-4.1-nano-2025-04-14, gpt-3.5-turbo-0125 and o4-mini-2025-04-16 shut down on 2026-10-23;
* ``GET /v1/models/{id}`` returns ``{id, object: "model", created, owned_by, shutdown_date}``
  (``openai.types.Model`` in the installed SDK; ``shutdown_date`` is "null if not announced");
* per-example cap 65,536 tokens for gpt-4o and gpt-4o-mini (Azure OpenAI model table; OpenAI guide);
  **assumption**: the same cap for the gpt-4.1 family, which OpenAI's pages do not state;
  16,385 for gpt-3.5-turbo-0125 (OpenAI guide);
* a create naming a model that is not fine-tunable (unknown, an embedding model, a shut-down snapshot) gets
  400 ``model_not_available`` "Model X is not available for fine-tuning or does not exist."
  (**assumption**: wording and code as reported by users of the API, e.g. openai-python issues and the
  OpenAI community forum; the API reference documents no error bodies);
* chat with an unknown model gets 404 ``model_not_found`` "The model `X` does not exist or you do not
  have access to it." (the API's long-standing answer); chat with a non-chat model (an embedding model)
  gets 404 "This is not a chat model ..." (**assumption**: wording from user reports).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["MODELS", "EmulatedModel", "find_model"]


@dataclass(frozen=True)
class EmulatedModel:
    id: str
    created: int
    fine_tunable: bool = True
    chat: bool = True
    methods: tuple[str, ...] = ("supervised", "dpo")
    example_cap: int | None = 65_536
    shutdown_date: str | None = None
    owned_by: str = "system"

    def shut_down(self, today: date) -> bool:
        return self.shutdown_date is not None and today >= date.fromisoformat(self.shutdown_date)

    def view(self) -> dict[str, object]:
        return {"id": self.id, "object": "model", "created": self.created, "owned_by": self.owned_by,
                "shutdown_date": self.shutdown_date}


MODELS: dict[str, EmulatedModel] = {m.id: m for m in (
    EmulatedModel("gpt-4o-mini-2024-07-18", 1721172741, shutdown_date="2027-01-14"),
    EmulatedModel("gpt-4o-2024-08-06", 1722814719, shutdown_date="2027-01-14"),
    EmulatedModel("gpt-4.1-2025-04-14", 1744315746, shutdown_date="2027-01-14"),
    EmulatedModel("gpt-4.1-mini-2025-04-14", 1744317547, shutdown_date="2027-01-14"),
    EmulatedModel("gpt-4.1-nano-2025-04-14", 1744321707, shutdown_date="2026-10-23"),
    EmulatedModel("gpt-3.5-turbo-0125", 1706048358, methods=("supervised",), example_cap=16_385,
                  shutdown_date="2026-10-23"),
    EmulatedModel("o4-mini-2025-04-16", 1744133506, methods=("reinforcement",), shutdown_date="2026-10-23"),
    # served but never fine-tunable here
    EmulatedModel("gpt-4o-mini", 1721172741, fine_tunable=False),
    EmulatedModel("text-embedding-3-small", 1705948997, fine_tunable=False, chat=False),
)}


def find_model(model_id: str) -> EmulatedModel | None:
    return MODELS.get(model_id)
