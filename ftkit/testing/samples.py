"""Small deterministic datasets for tests, harnesses and docs (no downloads)."""

from __future__ import annotations

import random
from typing import Any

__all__ = ["colour_examples", "preference_examples"]

_THINGS = {
    "banana": "yellow",
    "grass": "green",
    "sky": "blue",
    "snow": "white",
    "coal": "black",
    "tomato": "red",
    "carrot": "orange",
    "lemon": "yellow",
    "leaf": "green",
    "ocean": "blue",
    "milk": "white",
    "cherry": "red",
    "pumpkin": "orange",
    "night": "black",
    "lime": "green",
    "strawberry": "red",
}


def colour_examples(n: int = 16, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` chat examples of a tiny labelling task: name the colour of a thing.

    Each has a system prompt, one user turn and one assistant turn, so every provider format can
    express it; distinct wording keeps exact and near duplicates out of the set.
    """
    rng = random.Random(seed)
    things = list(_THINGS.items())
    templates = [
        "What colour is {t}?",
        "Name the colour of {t}.",
        "Which colour does {t} have?",
        "Tell me the usual colour of {t}.",
        "In one word, what colour is {t}?",
    ]
    out = []
    for i in range(n):
        thing, colour = things[i % len(things)]
        template = templates[(i // len(things)) % len(templates)]
        out.append(
            {
                "messages": [
                    {"role": "system", "content": "Answer with one colour word."},
                    {"role": "user", "content": template.format(t=thing) + ("" if i < 80 else f" (#{i})")},
                    {"role": "assistant", "content": colour},
                ]
            }
        )
    rng.shuffle(out)
    return out


def preference_examples(n: int = 16, *, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` preference pairs (TRL conversational form) over the same task: right vs wrong colour."""
    colours = sorted(set(_THINGS.values()))
    rng = random.Random(seed)
    out = []
    for example in colour_examples(n, seed=seed):
        prompt = example["messages"][:-1]
        right = example["messages"][-1]["content"]
        wrong = rng.choice([c for c in colours if c != right])
        out.append(
            {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": right}],
                "rejected": [{"role": "assistant", "content": wrong}],
            }
        )
    return out
