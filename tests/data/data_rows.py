"""Valid examples of every format for the data tests (distinct texts, so no accidental duplicates)."""

from __future__ import annotations

from typing import Any


def chat(i: int = 0, *, system: bool = True) -> dict[str, Any]:
    """A valid chat example whose text differs with ``i`` (so examples are not near-duplicates)."""
    words = " ".join(f"w{i}x{k}" for k in range(12))
    messages = [{"role": "system", "content": "You are terse."}] if system else []
    messages += [
        {"role": "user", "content": f"Question {i}: what is {words}?"},
        {"role": "assistant", "content": f"Answer {i}: it is {words[::-1]}."},
    ]
    return {"messages": messages}


def rows_of(fmt: str, n: int) -> list[dict[str, Any]]:
    """``n`` valid, distinct examples of format ``fmt``."""
    out = []
    for i in range(n):
        text = " ".join(f"t{i}y{k}" for k in range(10))
        if fmt == "chat":
            out.append(chat(i))
        elif fmt == "instruction":
            out.append({"instruction": f"Summarise {text}", "input": f"about {i}", "output": f"summary {text}"})
        elif fmt == "prompt_completion":
            out.append({"prompt": f"Say {text}", "completion": f"{text} said"})
        elif fmt == "text":
            out.append({"text": f"Plain {text}"})
        elif fmt == "classification":
            out.append({"text": f"Review {text}", "label": ["good", "bad"][i % 2]})
        elif fmt == "preference":
            out.append({"prompt": [{"role": "user", "content": f"Pick {text}"}],
                        "chosen": [{"role": "assistant", "content": f"yes {text}"}],
                        "rejected": [{"role": "assistant", "content": f"no {text}"}]})
        elif fmt == "openai_preference":
            out.append({"input": {"messages": [{"role": "user", "content": f"Pick {text}"}]},
                        "preferred_output": [{"role": "assistant", "content": f"yes {text}"}],
                        "non_preferred_output": [{"role": "assistant", "content": f"no {text}"}]})
        else:
            raise ValueError(fmt)
    return out


FORMATS = ("chat", "instruction", "prompt_completion", "text", "classification", "preference", "openai_preference")


