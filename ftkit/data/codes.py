"""Every issue code the validator reports, with its severity and the hint that tells the user how to fix it.

Codes are stable: scripts and CI match on them. ``docs/data.md`` lists the same table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the report's pydantic models are not needed to check lines (helper processes)
    from ftkit.data.report import Severity

__all__ = ["CODES", "Code", "RawIssue"]


class Code(NamedTuple):
    severity: Severity
    hint: str


class RawIssue(NamedTuple):
    """An issue as workers produce it (cheap to pickle); turned into ``Issue`` by the validator."""

    code: str
    line: int | None
    path: str | None
    message: str
    related_lines: tuple[int, ...] = ()
    count: int | None = None
    members: tuple[int, ...] = ()  # a cluster's lines, its representative first (duplicates)


E, W = "error", "warning"

CODES: dict[str, Code] = {
    # -- file and line structure
    "internal_error": Code(E, "ftkit failed to check these lines; please report it with the line that triggers it."),
    "file_missing": Code(E, "Check the path; `ftkit validate` takes a JSONL file."),
    "empty_file": Code(E, "The file holds no examples; write one JSON object per line."),
    "invalid_utf8": Code(E, "Re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)."),
    "bom": Code(E, "Remove the UTF-8 byte-order mark at the start of the file; JSONL parsers reject it."),
    "blank_line": Code(W, "Delete empty lines; some providers reject them."),
    "invalid_json": Code(E, "Each line must be one complete JSON object; look for a missing quote, comma or brace."),
    "line_too_long": Code(E, "Split or shorten the example; a single line this long cannot be trained on."),
    "too_deep": Code(E, "The JSON nests too deeply to be an example; check how the line was generated."),
    "not_an_object": Code(E, 'Each line must be a JSON object such as {"messages": [...]}.'),
    "unknown_format": Code(E, "Use one of the formats: chat, instruction, prompt/completion, text, classification, "
                              "preference (see docs/data.md)."),
    "mixed_formats": Code(E, "Use one format per file; `ftkit convert` turns every line into the same format."),
    # -- fields
    "missing_field": Code(E, "Add the field; every example of this format needs it."),
    "wrong_type": Code(E, "Give the field the type the format expects."),
    "unknown_key": Code(E, "Remove the key (providers reject unknown fields), or check its spelling."),
    "empty_content": Code(E, "Give the field some text, or drop the example."),
    "empty_messages": Code(E, "An example needs at least one user and one assistant message."),
    "unknown_role": Code(E, "Use one of the roles system, user, assistant, tool."),
    "system_not_first": Code(E, "Put the system message first, once."),
    "roles_not_alternating": Code(E, "After the optional system message, user and assistant turns alternate "
                                     "(tool results follow the assistant turn that called the tool)."),
    "no_assistant_message": Code(E, "Add the assistant answer the model should learn."),
    "last_not_assistant": Code(E, "End the example with the assistant turn to train on (for SFT)."),
    "invalid_weight": Code(E, "Set weight to 0 (do not train on this turn) or 1 (train on it)."),
    "weight_not_on_assistant": Code(E, "Only assistant messages carry a weight; remove it from this message."),
    "no_trained_tokens": Code(E, "At least one assistant turn needs weight 1 (or no weight), or the example "
                                 "trains on nothing."),
    "undeclared_tool": Code(E, "Declare the function in the example's top-level `tools`, or fix its name."),
    "tools_not_declared": Code(W, "Add the top-level `tools` with the function definitions the model may call."),
    "unknown_tool_call_id": Code(E, "A tool message's tool_call_id must match an id in a preceding assistant "
                                    "turn's tool_calls."),
    "prompt_ends_with_assistant": Code(E, "A preference prompt ends with a user (or tool) turn; the answers "
                                          "are the chosen / rejected outputs."),
    "preference_output": Code(E, "Give exactly one assistant message in each preferred / non-preferred output."),
    "identical_preference": Code(W, "Chosen and rejected answers are the same, so the pair teaches nothing."),
    "method_mismatch": Code(E, "Use preference data for DPO and supervised data (chat, instruction, ...) for SFT, "
                               "or pass the method that fits the data."),
    # -- provider rules
    "too_few_examples": Code(E, "Add examples: the provider refuses files below its minimum."),
    "file_too_large": Code(E, "Split the file, or remove examples; the provider refuses files above this size."),
    "format_not_accepted": Code(E, "Convert the file: `ftkit convert FILE --to PROVIDER --out OUT.jsonl`."),
    "method_not_supported": Code(E, "Choose a method the provider supports, or another provider."),
    "example_too_long": Code(E, "Shorten the example or split the conversation; the provider's per-example "
                                "token limit applies."),
    # -- quality
    "few_examples": Code(W, "Providers report clear gains from 50-100 good examples; aim for more for "
                            "generation tasks (500+)."),
    "label_count_low": Code(W, "Collect at least 100 examples per label, or merge rare labels."),
    "label_imbalance": Code(W, "Balance the labels (collect or down-sample), or the model will favour the "
                               "common ones."),
    "label_variants": Code(W, "Use one spelling per label; these differ only in case, spacing or punctuation."),
    "system_prompt_inconsistent": Code(W, "Use the same system prompt in every example (or none); the model "
                                          "learns to depend on it."),
    "duplicate": Code(W, "Remove repeated examples (`ftkit dedup`); they overweight those examples."),
    "near_duplicate": Code(W, "Remove near-copies (`ftkit dedup`), or check that they differ on purpose."),
    "leakage": Code(W, "The same example is in two splits, so evaluation scores are inflated; re-split with "
                       "`ftkit split`, which deduplicates first."),
    "near_leakage": Code(W, "A near-copy of this example is in another split; re-split with `ftkit split`."),
    "truncated": Code(W, "Raise max_seq_length or shorten the example; the cut tokens are not trained on."),
    "special_token_in_content": Code(W, "Special tokens in plain text confuse training; remove or escape them."),
    "assistant_not_located": Code(E, "Assistant-only loss cannot find this answer in the chat template's output; "
                                     "fix the example, pass a chat template that renders it, or train on every "
                                     "token (the provider's loss option)."),
}
