"""The request bodies the OpenAI emulator accepts, checked as strictly as the real API checks them.

Field lists follow the installed SDK's param types (``openai/types/fine_tuning/job_create_params.py``,
``*_hyperparameters_param.py``, ``types/chat/completion_create_params.py``) and the ranges in the
reference notes. An unknown or misplaced field is answered the way the real service answers it:
400 ``Unrecognized request argument supplied: <field>``, so a wrong mapping in ftkit fails in a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ftkit.testing._http import HTTPError

__all__ = ["check_chat_request", "check_job_request", "invalid"]

Check = Callable[[str, Any], None]


def invalid(message: str, param: str | None = None, code: str | None = None) -> HTTPError:
    return HTTPError(400, message, type="invalid_request_error", param=param, code=code)


def _integer(lo: int, hi: int, *, auto: bool = False) -> Check:
    def check(name: str, value: Any) -> None:
        if auto and value == "auto":
            return
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(f"Invalid type for '{name}': expected an integer, but got {_kind(value)} instead.", name)
        if not lo <= value <= hi:
            raise invalid(f"Invalid value for '{name}': expected a value between {lo} and {hi}, got {value}.", name)

    return check


def _number(lo: float, hi: float, *, auto: bool = False, lo_open: bool = True) -> Check:
    def check(name: str, value: Any) -> None:
        if auto and value == "auto":
            return
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(f"Invalid type for '{name}': expected a number, but got {_kind(value)} instead.", name)
        if value < lo or (lo_open and value == lo) or value > hi:
            raise invalid(f"Invalid value for '{name}': {value} is out of range.", name)

    return check


def _string(max_length: int = 1 << 20, *, nullable: bool = True, min_length: int = 0) -> Check:
    def check(name: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str):
            raise invalid(f"Invalid type for '{name}': expected a string, but got {_kind(value)} instead.", name)
        if not min_length <= len(value) <= max_length:
            raise invalid(f"Invalid '{name}': string length must be between {min_length} and {max_length}.", name)

    return check


def _anything(name: str, value: Any) -> None:
    return None


def _object(fields: dict[str, Check], *, required: tuple[str, ...] = (), nullable: bool = False) -> Check:
    """A nested object: unknown keys are 'Unrecognized request argument supplied'."""

    def check(name: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, dict):
            raise invalid(f"Invalid type for '{name}': expected an object, but got {_kind(value)} instead.", name)
        check_fields(value, fields, required=required, prefix=f"{name}.")

    return check


def _list_of(item: Check, *, nullable: bool = True) -> Check:
    def check(name: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, list):
            raise invalid(f"Invalid type for '{name}': expected an array, but got {_kind(value)} instead.", name)
        for i, v in enumerate(value):
            item(f"{name}[{i}]", v)

    return check


def _metadata(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid(f"Invalid type for '{name}': expected an object with string values.", name)
    if len(value) > 16:
        raise invalid(f"Invalid '{name}': at most 16 key-value pairs are allowed.", name)
    for key, v in value.items():
        if len(key) > 64 or len(v) > 512:
            raise invalid(f"Invalid '{name}': keys are at most 64 and values at most 512 characters.", name)


def _one_of(*allowed: str) -> Check:
    def check(name: str, value: Any) -> None:
        if value not in allowed:
            raise invalid(f"Invalid value for '{name}': expected one of {', '.join(allowed)}, got {value!r}.", name)

    return check


def check_fields(body: dict[str, Any], fields: dict[str, Check], *, required: tuple[str, ...] = (),
                 prefix: str = "") -> None:
    for key in body:
        if key not in fields:
            raise invalid(f"Unrecognized request argument supplied: {prefix}{key}")
    for key in required:
        if key not in body:
            raise invalid(f"Missing required parameter: '{prefix}{key}'.", f"{prefix}{key}")
    for key, value in body.items():
        fields[key](f"{prefix}{key}", value)


def _kind(value: Any) -> str:
    return {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


_SUPERVISED_HP = {
    "n_epochs": _integer(1, 50, auto=True),
    "batch_size": _integer(1, 256, auto=True),
    "learning_rate_multiplier": _number(0, 1e3, auto=True),
}
_DPO_HP = {**_SUPERVISED_HP, "beta": _number(0, 2, auto=True)}

_METHOD = _object(
    {
        "type": _one_of("supervised", "dpo", "reinforcement"),
        "supervised": _object({"hyperparameters": _object(_SUPERVISED_HP)}),
        "dpo": _object({"hyperparameters": _object(_DPO_HP)}),
        # RFT needs a grader; the emulator does not run reinforcement jobs (see check_job_request)
        "reinforcement": _object({"grader": _anything, "hyperparameters": _anything}),
    },
    required=("type",),
)

_WANDB = _object(
    {
        "project": _string(nullable=False, min_length=1),
        "entity": _string(),
        "name": _string(),
        "tags": _list_of(_string(nullable=False)),
    },
    required=("project",),
)

JOB_FIELDS: dict[str, Check] = {
    "model": _string(nullable=False, min_length=1),
    "training_file": _string(nullable=False, min_length=1),
    "validation_file": _string(),
    "suffix": _string(64, min_length=1),
    "seed": lambda n, v: None if v is None else _integer(0, 2147483647)(n, v),
    "method": _METHOD,
    "hyperparameters": _object(_SUPERVISED_HP),  # deprecated top-level form, still accepted
    "integrations": _list_of(_object({"type": _one_of("wandb"), "wandb": _WANDB}, required=("type", "wandb"))),
    "metadata": _metadata,
}


def check_job_request(body: Any) -> dict[str, Any]:
    """Validate a ``POST /fine_tuning/jobs`` body; returns it. Raises the 400 the real API sends."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    check_fields(body, JOB_FIELDS, required=("model", "training_file"))
    method = body.get("method")
    if method:
        kind = method["type"]
        for other in ("supervised", "dpo", "reinforcement"):
            if other != kind and other in method:
                raise invalid(f"Unrecognized request argument supplied: method.{other}")
        if kind == "reinforcement":
            raise invalid("Reinforcement fine-tuning is not available for this model.", "method.type",
                          "model_not_available")
        if "hyperparameters" in body:
            raise invalid("Specify hyperparameters either in 'hyperparameters' or in 'method', not both.",
                          "hyperparameters")
    return body


#: every field of ``CompletionCreateParams`` in the installed SDK; those ftkit sends are checked closely below
_CHAT_FIELD_NAMES = (
    "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
    "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model", "moderation", "n",
    "parallel_tool_calls", "prediction", "presence_penalty", "prompt_cache_key", "prompt_cache_options",
    "prompt_cache_retention", "reasoning_effort", "response_format", "safety_identifier", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
    "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
)
_CHAT_FIELDS: dict[str, Check] = dict.fromkeys(_CHAT_FIELD_NAMES, _anything)
_CHAT_FIELDS.update(
    {
        "model": _string(nullable=False, min_length=1),
        "messages": _list_of(_object({"role": _one_of("system", "developer", "user", "assistant", "tool"),
                                      "content": _anything, "name": _string(), "tool_calls": _anything,
                                      "tool_call_id": _string(), "refusal": _anything}, required=("role",)),
                             nullable=False),
        "temperature": lambda n, v: None if v is None else _number(0, 2, lo_open=False)(n, v),
        "top_p": lambda n, v: None if v is None else _number(0, 1, lo_open=False)(n, v),
        "max_tokens": lambda n, v: None if v is None else _integer(1, 1 << 20)(n, v),
        "max_completion_tokens": lambda n, v: None if v is None else _integer(1, 1 << 20)(n, v),
        "seed": lambda n, v: None if v is None else _integer(-(2**63), 2**63 - 1)(n, v),
        "n": lambda n, v: None if v is None else _integer(1, 1)(n, v),  # the emulator answers one choice
        "stop": lambda n, v: None if v is None or isinstance(v, str) else _list_of(_string(nullable=False))(n, v),
    }
)


def check_chat_request(body: Any) -> dict[str, Any]:
    """Validate a ``POST /chat/completions`` body (the emulator does not stream)."""
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    check_fields(body, _CHAT_FIELDS, required=("model", "messages"))
    if body.get("stream"):
        raise invalid("The emulator does not stream; call without stream=True.", "stream")
    if not body["messages"]:
        raise invalid("Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages")
    return body
