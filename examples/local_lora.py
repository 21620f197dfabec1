"""Fine-tune a model on this machine with LoRA, follow it, then use, merge and export the result.

Runs offline in about a minute on a laptop CPU: it builds a tiny model with ftkit.testing.tiny_model.
Point MODEL at a real model directory (or hub id) to do the same for real.

    python examples/local_lora.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ftkit import FineTuneJob
from ftkit.testing import colour_examples, tiny_model

work = Path(tempfile.mkdtemp(prefix="ftkit-local-"))
MODEL = str(tiny_model(work / "tiny-llama"))
examples = colour_examples(80)

job = FineTuneJob(
    provider="local",
    model=MODEL,
    train=examples[:64],
    validation=examples[64:],
    adapter="lora",
    learning_rate=3e-3,
    options={"max_steps": 120, "logging_steps": 20, "save_steps": 40},
)
print("job", job.id)
job.start()
model = job.wait(on_event=print)  # Ctrl-C is safe: FineTuneJob.attach(job.id) picks the run up again

print("eval loss", model.metrics["eval_loss"])
for answer in model.generate(["What colour is snow?", "Name the colour of grass."], max_new_tokens=4):
    print("->", answer.text)

merged = model.merge(work / "merged")  # loads with AutoModelForCausalLM.from_pretrained, no ftkit needed
print("merged model in", merged)
ollama = model.provider_instance().export_ollama(model, work / "ollama", system_prompt="Answer with one colour.")
print("ollama bundle in", ollama, "- run: ollama create colours -f", ollama / "Modelfile")
