"""How the OpenAI emulator's fine-tuning jobs behave: data checks, a timed schedule, metrics and answers.

A job's whole life is planned when it is created (:func:`plan_job`): status changes, log events and
checkpoints each get an emulated time offset. What a client sees is the part of the plan whose time
has come on the server's fast clock, so polling, paging and re-attaching behave as on the real service
while a 100-step job takes about a second of wall time.

Answers of emulated models (:class:`AnswerBook`) are deterministic and make evaluation meaningful:

* a fine-tuned model (``ft:...``, or one of its ``:ckpt-step-N`` checkpoints) answers a prompt it saw
  in training with the trained assistant reply;
* an unseen prompt is answered by keyword, which mimics generalising to paraphrases: of its words that
  occur in at most a quarter of the training prompts, the rarest one (ties: alphabetical) picks the
  training examples containing it, and their most common reply is the answer. "Which colour does
  grass have?" gets the reply trained for "What colour is grass?";
* any other prompt, and every prompt to a base model, gets ``BASE_ANSWER``.

So on a held-out split of a labelling task a fine-tune scores well above its base model, and a test
that compares them checks something real.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BASE_ANSWER", "AnswerBook", "DataCheck", "Plan", "check_training_data", "count_tokens", "plan_job"]

#: what a base model (or a fine-tune facing an unfamiliar prompt) answers
BASE_ANSWER = "I am not sure."

MIN_EXAMPLES = 10


# -- tokens ------------------------------------------------------------------------------------------------


def _encoder() -> Any:
    try:
        import bpe_openai

        return bpe_openai.get_encoding("o200k_base")
    except Exception:  # the emulator must work without the openai extra: fall back to ~4 chars/token
        return None


_ENCODING = _encoder()


def count_tokens(text: str) -> int:
    if _ENCODING is not None:
        return len(_ENCODING.encode(text))
    return max(1, math.ceil(len(text) / 4)) if text else 0


def _message_tokens(messages: list[dict[str, Any]]) -> int:
    """The cookbook's chat estimate: 3 per message + every value encoded + 3 to prime the reply."""
    total = 3
    for message in messages:
        total += 3
        for key, value in message.items():
            total += count_tokens(value if isinstance(value, str) else json.dumps(value))
            total += 1 if key == "name" else 0
    return total


# -- training data ---------------------------------------------------------------------------------------------


@dataclass
class DataCheck:
    """What server-side validation found in an uploaded training file."""

    examples: int = 0
    tokens: int = 0
    error: str | None = None
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (last user message, trained answer)


def check_training_data(content: bytes, method: str, param: str = "training_file", *,
                        cap: int | None = None) -> DataCheck:
    """Parse and check a JSONL file the way the service does after upload (first problem wins).

    ``cap`` is the model's per-example token limit: a longer example fails the file (the guide's current
    rule; older docs said such examples were truncated)."""
    result = DataCheck()
    try:
        lines = content.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        result.error = "Invalid file format. The file is not valid UTF-8."
        return result
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            example = json.loads(line)
        except ValueError:
            result.error = f"Invalid file format. Line {number} is not valid JSON."
            return result
        problem, prompt, answer, tokens = _check_example(example, method)
        if problem:
            result.error = f"Invalid file format. Line {number}, {problem}"
            return result
        if cap is not None and tokens > cap:
            result.error = (f"Invalid file format. Line {number}, the example has {tokens} tokens, more than the "
                            f"maximum of {cap} tokens per example for this model.")
            return result
        result.examples += 1
        result.tokens += tokens
        result.pairs.append((prompt, answer))
    if result.examples < MIN_EXAMPLES:
        what = "Training" if param == "training_file" else "Validation"
        result.error = (
            f"{what} file has {result.examples} example(s), but must have at least {MIN_EXAMPLES} examples"
        )
    return result


def _check_example(example: Any, method: str) -> tuple[str | None, str, str, int]:
    if not isinstance(example, dict):
        return "the example is not a JSON object.", "", "", 0
    if method == "dpo":
        unknown = set(example) - {"input", "preferred_output", "non_preferred_output"}
        if unknown:
            return f'unrecognized key "{sorted(unknown)[0]}" in a preference example.', "", "", 0
        inp = example.get("input")
        if not isinstance(inp, dict) or not isinstance(inp.get("messages"), list) or not inp["messages"]:
            return 'key "input": expected an object with a non-empty "messages" list.', "", "", 0
        outputs = []
        for key in ("preferred_output", "non_preferred_output"):
            value = example.get(key)
            if not (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)
                    and value[0].get("role") == "assistant"):
                return f'key "{key}": expected a list with exactly one assistant message.', "", "", 0
            outputs.append(value[0])
        messages = inp["messages"]
        tokens = _message_tokens(messages + outputs)
        return None, _last_user(messages), str(outputs[0].get("content") or ""), tokens
    unknown = set(example) - _EXAMPLE_KEYS
    if unknown:
        return f'unrecognized key "{sorted(unknown)[0]}" in a chat example.', "", "", 0
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return 'key "messages": expected a non-empty list.', "", "", 0
    for i, message in enumerate(messages):
        problem = _message_problem(message)
        if problem:
            return f"message {i + 1}: {problem}", "", "", 0
    assistants = [m for m in messages if m["role"] == "assistant"]
    if not assistants:
        return "the example has no assistant message to train on.", "", "", 0
    return None, _last_user(messages), str(assistants[-1].get("content") or ""), _message_tokens(messages)


#: top-level keys of a chat training example (fine-tuning input schema: messages, tools, parallel_tool_calls,
#: and the deprecated functions)
_EXAMPLE_KEYS = {"messages", "tools", "parallel_tool_calls", "functions"}
#: keys a training message may carry (the cookbook's list plus the tool-calling fields of the chat schema)
_MESSAGE_KEYS = {"role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call", "refusal"}
#: roles of the fine-tuning input schema (``developer`` is a chat role the training schema does not list)
_ROLES = ("system", "user", "assistant", "tool", "function")


def _message_problem(message: Any) -> str | None:
    """What the service refuses in one training message (the cookbook's format checks), or None."""
    if not isinstance(message, dict) or "role" not in message:
        return 'missing key "role".'
    if message["role"] not in _ROLES:
        return f'unrecognized role "{message["role"]}".'
    unknown = set(message) - _MESSAGE_KEYS
    if unknown:
        return f'unrecognized key "{sorted(unknown)[0]}".'
    content = message.get("content")
    calls = message.get("tool_calls") or message.get("function_call")
    if content is None:
        return None if message["role"] == "assistant" and calls else 'missing key "content".'
    if isinstance(content, str):
        return None if content or calls or message["role"] == "tool" else '"content" is empty.'
    if isinstance(content, list) and content and all(
            isinstance(part, dict) and part.get("type") in ("text", "image_url") for part in content):
        return None
    return '"content" must be a string or a list of text and image_url parts.'


def _last_user(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    content = users[-1].get("content") if users else ""
    return content if isinstance(content, str) else json.dumps(content)


def default_epochs(examples: int) -> int:
    """The cookbook's approximation of the service's ``n_epochs="auto"``."""
    if examples * 3 < 100:
        return min(25, max(1, 100 // max(examples, 1)))
    if examples * 3 > 25000:
        return max(1, 25000 // examples)
    return 3


# -- the schedule ------------------------------------------------------------------------------------------------


@dataclass
class Entry:
    """One planned happening: at ``offset`` emulated seconds after creation."""

    offset: float
    status: str | None = None  # the job's status from this moment on
    event: dict[str, Any] | None = None  # level, message, type, data
    checkpoint: int | None = None  # a checkpoint at this step
    error: dict[str, Any] | None = None


@dataclass
class Plan:
    entries: list[Entry]
    total_steps: int
    epochs: int
    batch_size: int
    metrics: list[dict[str, float]]  # one row per step, for the result CSV

    @property
    def outcome(self) -> str:
        return next(e.status for e in reversed(self.entries) if e.status)


@dataclass
class Timing:
    validate_seconds: float = 10.0
    queue_seconds: float = 10.0
    step_seconds: float = 1.0
    finish_seconds: float = 5.0


def plan_job(
    *,
    job_id: str,
    training_file: str,
    data: DataCheck,
    validation: DataCheck | None,
    hyperparameters: dict[str, Any],
    timing: Timing,
    failure: dict[str, Any] | None = None,
) -> Plan:
    """Plan a job from validation to its end. ``failure`` scripts ``{"code", "message", "param", "at"}``
    with ``at`` "validation" or "running"."""
    entries = [
        Entry(0, "validating_files", _event(f"Created fine-tuning job: {job_id}")),
        Entry(0, None, _event(f"Validating training file: {training_file}")),
    ]
    file_error = data.error or (validation.error if validation else None)
    if file_error or (failure and failure.get("at") == "validation"):
        param = "training_file" if data.error or not file_error else "validation_file"
        error = {"code": "invalid_training_file" if param == "training_file" else "invalid_validation_file",
                 "message": f"The job failed due to an invalid {param.replace('_', ' ')}. {file_error}",
                 "param": param}
        if failure and not file_error:
            error = {"code": failure.get("code", "invalid_training_file"), "message": failure["message"],
                     "param": failure.get("param", "training_file")}
        entries.append(Entry(timing.validate_seconds, "failed", _event(error["message"], "error"), error=error))
        return Plan(entries, 0, 0, 0, [])

    epochs = hyperparameters.get("n_epochs", "auto")
    epochs = default_epochs(data.examples) if epochs in ("auto", None) else int(epochs)
    batch = hyperparameters.get("batch_size", "auto")
    batch = max(1, min(256, data.examples // 50)) if batch in ("auto", None) else int(batch)
    steps_per_epoch = max(1, math.ceil(data.examples / batch))
    total = steps_per_epoch * epochs
    t = timing.validate_seconds
    entries.append(Entry(t, "queued", _event("Files validated, moving job to queued state")))
    t += timing.queue_seconds
    entries.append(Entry(t, "running", _event("Fine-tuning job started")))
    fail_step = None
    if failure and failure.get("at", "running") == "running":
        fail_step = min(total, max(1, int(failure.get("step", total // 2 or 1))))
    metrics = []
    for step in range(1, total + 1):
        t += timing.step_seconds
        row = _metrics(job_id, step, total, validation is not None)
        metrics.append(row)
        message = f"Step {step}/{total}: training loss={row['train_loss']:.4f}"
        entries.append(Entry(t, None, _event(message, type_="metrics", data={"step": step, "total_steps": total,
                                                                          **row})))
        if step % steps_per_epoch == 0 and step != total:
            entries.append(Entry(t, None, _event(f"Checkpoint created at step {step}"), checkpoint=step))
        if step == fail_step:
            error = {"code": failure.get("code", "server_error"),  # type: ignore[union-attr]
                     "message": failure["message"], "param": failure.get("param")}  # type: ignore[index]
            entries.append(Entry(t + 0.5, "failed", _event(error["message"], "error"), error=error))
            return Plan(entries, total, epochs, batch, metrics)
    t += timing.finish_seconds
    entries.append(Entry(t, None, _event("Checkpoint created at step " + str(total)), checkpoint=total))
    entries.append(Entry(t, None, _event("New fine-tuned model created")))
    entries.append(Entry(t, "succeeded", _event("The job has successfully completed")))
    return Plan(entries, total, epochs, batch, metrics)


def _event(message: str, level: str = "info", *, type_: str = "message", data: Any = None) -> dict[str, Any]:
    return {"level": level, "message": message, "type": type_, "data": data}


def _metrics(job_id: str, step: int, total: int, with_validation: bool) -> dict[str, float]:
    """A plausible, deterministic loss curve: exponential decay plus per-step jitter from a hash."""
    jitter = int(hashlib.sha256(f"{job_id}:{step}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF - 0.5
    progress = step / total
    loss = 0.15 + 2.2 * math.exp(-4 * progress) + 0.08 * jitter
    accuracy = min(1.0, 0.35 + 0.6 * (1 - math.exp(-4 * progress)) + 0.03 * jitter)
    row = {"train_loss": round(loss, 5), "train_mean_token_accuracy": round(accuracy, 5)}
    if with_validation:
        row["valid_loss"] = round(loss * 1.08 + 0.02, 5)
        row["valid_mean_token_accuracy"] = round(accuracy * 0.97, 5)
    return row


def metrics_csv(plan: Plan) -> str:
    """The result file's CSV, with the service's column names."""
    out = io.StringIO()
    columns = ["step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy"]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for step, row in enumerate(plan.metrics, start=1):
        writer.writerow([step, row["train_loss"], row["train_mean_token_accuracy"],
                         row.get("valid_loss", ""), row.get("valid_mean_token_accuracy", "")])
    return out.getvalue()


# -- answers -----------------------------------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


class AnswerBook:
    """The deterministic answers of one fine-tuned model (see the module docstring)."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self._exact: dict[str, str] = {}
        self._by_word: dict[str, list[str]] = {}
        for prompt, answer in pairs:
            key = _normalise(prompt)
            self._exact.setdefault(key, answer)
            for word in set(key.split()):
                self._by_word.setdefault(word, []).append(answer)
        self._rare_limit = max(1, len(pairs) // 4)

    def answer(self, prompt: str) -> str:
        key = _normalise(prompt)
        if key in self._exact:
            return self._exact[key]
        rare = sorted(
            (len(self._by_word[word]), word)
            for word in set(key.split())
            if word in self._by_word and len(self._by_word[word]) <= self._rare_limit
        )
        if not rare:
            return BASE_ANSWER
        answers = self._by_word[rare[0][1]]
        return Counter(answers).most_common(1)[0][0]  # ties: the first trained
