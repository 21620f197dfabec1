"""Writes the bundled demo data (run once; the JSONL output is committed): ``python -m ftkit.demo._make_dataset``.

* ``tickets_{train,validation,test}.jsonl``: support tickets of "Northwind", a company selling a
  smart-home hub and a cloud plan, routed to one of seven queues. Chat format, one system prompt.
* ``general_instructions.jsonl``: a small general-instruction set for regression checks (what a
  fine-tune forgot), answers short enough to score with ``contains`` and chrF.

Tickets are written from hand-made templates per queue with varied slots, openers and sign-offs,
seeded, so the files are identical on every run. Test tickets share the queues' vocabulary with
training, not their exact text.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# next to this module, so the package data patterns ("*.jsonl") ship them in the wheel
DATA_DIR = Path(__file__).resolve().parent

QUEUES = ("account", "billing", "returns", "sales", "security", "shipping", "technical")

SYSTEM_PROMPT = (
    "You are the triage assistant of the Northwind support desk. Route the customer's ticket to exactly "
    "one queue: " + ", ".join(QUEUES) + ". Answer with the queue name only."
)

SLOTS: dict[str, list[str]] = {
    "product": ["Northwind Hub", "Hub Mini", "motion sensor", "smart plug", "door sensor", "Hub Pro", "thermostat"],
    "plan": ["Starter", "Home Plus", "Pro", "Family", "Business"],
    "amount": ["$9.99", "$14.99", "$29.00", "$49.99", "$120.00", "$4.50", "$199.00", "€19.99"],
    "order": ["NW-20418", "NW-33871", "NW-10562", "NW-48290", "NW-27715", "NW-51003", "NW-39946", "NW-60217"],
    "date": ["Monday", "last Friday", "March 3", "yesterday", "two weeks ago", "the 14th", "this morning"],
    "error": ["E-101", "E-204", "timeout 504", "error 500", "E-317", "code 42", "sync error 9"],
    "app": ["the iOS app", "the Android app", "the web dashboard", "the desktop app", "the API"],
    "n": ["3", "5", "12", "20", "50", "200", "2"],
    "city": ["Leeds", "Austin", "Lyon", "Toronto", "Dublin", "Porto", "Denver", "Utrecht"],
    "carrier": ["UPS", "DHL", "FedEx", "Royal Mail", "the courier"],
    "name": ["Maria", "Tom", "Priya", "Jonas", "Aisha", "Kenji", "Lucia", "Sam", "Olga", "Ben"],
    "integration": ["Alexa", "Google Home", "IFTTT", "HomeKit", "Zapier"],
}

TEMPLATES: dict[str, list[str]] = {
    "billing": [
        "I was charged {amount} twice for my {plan} plan this month. Please fix the duplicate payment.",
        "My invoice for {date} shows {amount} but my {plan} plan should cost less. Can you check the invoice?",
        "My card was declined when renewing the {plan} subscription. How can I update my payment method?",
        "Where can I download a VAT invoice for the {amount} payment made {date}?",
        "Why did my bill go up to {amount}? Nobody told me about a price change on the {plan} plan.",
        "I switched from {plan} to a cheaper plan but I was still billed {amount}.",
        "Can I pay annually instead of monthly for the {plan} plan? I want one invoice per year.",
        "There is a charge of {amount} on my statement from Northwind that I do not recognise.",
        "Please change the billing address on my invoices to our office in {city}.",
        "The payment page keeps failing and I cannot pay my overdue invoice of {amount}.",
        "I was billed for {n} seats but we only use two. Please correct the subscription charge.",
        "My free trial ended {date} and I was charged {amount} without a reminder email.",
    ],
    "technical": [
        "{app} shows {error} every time I open the devices page.",
        "My {product} keeps going offline every few minutes since the update on {date}.",
        "The {integration} integration stopped working and my {product} no longer responds to commands.",
        "{app} crashes as soon as I tap on automations. I already reinstalled it.",
        "The {product} firmware update failed halfway with {error} and now the light blinks red.",
        "Scenes run with a delay of almost a minute on my {product}. It used to be instant.",
        "I get {error} when calling the devices endpoint of the API with a valid token.",
        "My {product} does not pair with the hub. Pairing mode times out after a minute.",
        "The dashboard graphs are empty since {date} although the sensors are online.",
        "Notifications from {app} arrive hours late or not at all.",
        "The {product} reports the wrong temperature, about five degrees too high.",
        "After the router change the hub cannot connect to wifi and shows {error}.",
        "Automations with more than {n} steps silently stop in the middle.",
    ],
    "account": [
        "I forgot my password and the reset email never arrives. Please help me log in.",
        "How do I change the email address on my account? I no longer use the old one.",
        "I lost my phone and cannot pass two-factor authentication anymore.",
        "Please delete my account and all my personal data.",
        "My account is locked after too many login attempts. How long until I can try again?",
        "How can I add my partner as a second user on our home account?",
        "I want to merge two accounts I created by mistake with different emails.",
        "The login page says my username does not exist but I have used it since {date}.",
        "Can I transfer the {product} to a new owner's account when I sell my house?",
        "I need to change the name on my profile from {name} to my new surname.",
        "How do I export all my account data before closing the account?",
        "The verification code for my new account never arrives by SMS.",
    ],
    "shipping": [
        "My order {order} was supposed to arrive {date} but the tracking has not moved since.",
        "The tracking link for order {order} from {carrier} says the address is wrong. I live in {city}.",
        "When will order {order} be shipped? It still says processing after a week.",
        "{carrier} says the parcel with my {product} was delivered but I never received it.",
        "Can you ship order {order} to my office in {city} instead of my home address?",
        "Do you deliver to {city}? I could not select it at checkout.",
        "Only one of the {n} items in order {order} arrived. Where is the rest of my delivery?",
        "How much is express shipping for a {product} to {city}?",
        "My parcel is stuck at customs in {city}. Do I have to pay import fees for order {order}?",
        "Please update the delivery date of order {order}; I am away until {date}.",
        "The courier left my {product} outside in the rain. Can the next delivery require a signature?",
    ],
    "returns": [
        "The {product} I received in order {order} is damaged. I would like a replacement.",
        "I want to return the {product}; it is not compatible with my setup. How do I get a return label?",
        "You sent me a {product} instead of the thermostat I ordered in {order}. Please exchange it.",
        "Can I still return my {product}? I bought it {date} and have not opened the box.",
        "My {product} stopped working after two months. Is it covered by the warranty?",
        "I returned order {order} {date} and still have not received the refund for it.",
        "The box of my {product} arrived crushed and the device has a cracked case.",
        "How long is the return window for a {product} bought as a gift?",
        "I need an RMA number to send back the faulty {product} from order {order}.",
        "The replacement {product} you sent has the same defect as the first one. I want my money back.",
        "Which address do I send the returned {product} to? I am in {city}.",
    ],
    "sales": [
        "We are a property manager with {n} flats. Do you offer volume pricing for the {product}?",
        "Could we book a demo of the Business plan for our team in {city}?",
        "I would like a quote for {n} units of the {product} for our new office.",
        "Do you have a partner program for installers in {city}?",
        "What is the difference between the {plan} and Pro plans before I buy?",
        "Is there an education discount for schools buying {n} sensors?",
        "We want to resell the {product} in our shop. Who handles wholesale orders?",
        "Can the Business plan include a dedicated account manager for {n} sites?",
        "Is a {product} bundle with sensors available at a lower price for new customers?",
        "Our hotel in {city} is interested in a pilot with {n} rooms. Who can we talk to?",
        "Do you offer an enterprise contract with invoicing and a custom SLA?",
    ],
    "security": [
        "I received an email asking for my Northwind password that looks like phishing.",
        "Someone logged into my account from {city} and I did not do it.",
        "I think I found a vulnerability in {app} that exposes other users' device names.",
        "My {product} was reset and added to an account I do not know. Was I hacked?",
        "I got a login alert {date} for a new device I do not own. Please secure my account.",
        "Is my data safe? I read news about a Northwind data breach.",
        "A stranger can see the camera events in my shared home. How do I revoke access immediately?",
        "I want to report a security issue with the API tokens; they do not expire.",
        "Someone changed my account email and I can no longer log in. I suspect account takeover.",
        "Text messages claiming to be Northwind ask me to pay {amount}. Is this a scam?",
        "Where do I send a responsible disclosure report about {error} in the firmware?",
    ],
}

OPENERS = ["", "", "Hi,", "Hello,", "Hi team,", "Good morning,", "Hello support,", "Dear Northwind,", "Hey,"]
CLOSERS = ["", "", "", "Thanks.", "Thank you!", "Regards, {name}", "Thanks, {name}", "Please help.",
           "Many thanks, {name}", "Appreciate a quick reply."]
EXTRAS = ["", "", "", "", "This is urgent.", "I have tried twice already.", "Order placed from {city}.",
          "I am on the {plan} plan.", "It is the second time this happens."]

#: examples per queue; support desks see more technical and billing tickets than security ones
COUNTS = {"technical": 110, "billing": 100, "account": 85, "shipping": 85, "returns": 80, "sales": 70,
          "security": 70}
SPLIT = {"test": 0.2, "validation": 0.1}


def _fill(text: str, rng: random.Random) -> str:
    for slot, values in SLOTS.items():
        while "{" + slot + "}" in text:
            text = text.replace("{" + slot + "}", rng.choice(values), 1)
    return text


def _ticket(queue: str, rng: random.Random) -> str:
    parts = [rng.choice(OPENERS), rng.choice(TEMPLATES[queue]), rng.choice(EXTRAS), rng.choice(CLOSERS)]
    return _fill(" ".join(p for p in parts if p), rng)


def _example(ticket: str, queue: str) -> dict:
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": ticket},
            {"role": "assistant", "content": queue},
        ]
    }


def ticket_splits(seed: int = 7) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    seen: set[str] = set()
    rows: list[tuple[str, str]] = []
    for queue, count in COUNTS.items():
        made = 0
        while made < count:
            ticket = _ticket(queue, rng)
            if ticket in seen:  # duplicates would leak between splits
                continue
            seen.add(ticket)
            rows.append((ticket, queue))
            made += 1
    rng.shuffle(rows)
    n_test, n_val = int(len(rows) * SPLIT["test"]), int(len(rows) * SPLIT["validation"])
    return {
        "test": [_example(t, q) for t, q in rows[:n_test]],
        "validation": [_example(t, q) for t, q in rows[n_test : n_test + n_val]],
        "train": [_example(t, q) for t, q in rows[n_test + n_val :]],
    }


GENERAL_SYSTEM = "You are a helpful assistant. Answer briefly."

GENERAL = [
    ("What is the capital of France?", "Paris"),
    ("What is the capital of Japan?", "Tokyo"),
    ("What is the capital of Italy?", "Rome"),
    ("What is the capital of Canada?", "Ottawa"),
    ("What is 7 times 8?", "56"),
    ("What is 15 plus 27?", "42"),
    ("What is 100 minus 37?", "63"),
    ("What is half of 90?", "45"),
    ("How many days are in a week?", "7"),
    ("How many minutes are in an hour?", "60"),
    ("What colour do you get by mixing blue and yellow?", "green"),
    ("What is the opposite of hot?", "cold"),
    ("What is the plural of mouse?", "mice"),
    ("Which planet is known as the Red Planet?", "Mars"),
    ("What is the largest ocean on Earth?", "Pacific"),
    ("At what temperature in Celsius does water freeze?", "0"),
    ("Translate 'thank you' into Spanish.", "gracias"),
    ("Translate 'good morning' into French.", "bonjour"),
    ("Translate 'cat' into German.", "Katze"),
    ("Spell the word 'apple' backwards.", "elppa"),
    ("What is the first letter of the English alphabet?", "A"),
    ("Which month comes after March?", "April"),
    ("Which day comes after Friday?", "Saturday"),
    ("Write the number twelve in digits.", "12"),
    ("Is the sun a star or a planet?", "star"),
    ("What gas do plants absorb from the air?", "carbon dioxide"),
    ("Who wrote 'Romeo and Juliet'?", "Shakespeare"),
    ("What is the chemical symbol for gold?", "Au"),
    ("How many legs does a spider have?", "8"),
    ("What is the square root of 81?", "9"),
    ("Answer with yes or no: is ice cold?", "yes"),
    ("Answer with yes or no: can fish fly to the moon?", "no"),
    ("Give the next number: 2, 4, 6, 8, ...", "10"),
    ("Sort these words alphabetically: pear, apple, mango.", "apple, mango, pear"),
    ("Return the JSON object with key ok set to true.", '{"ok": true}'),
    ("Convert 3 kilometres to metres.", "3000"),
    ("What is the boiling point of water in Celsius at sea level?", "100"),
    ("Name the primary colour that is not red or blue.", "yellow"),
    ("What is the past tense of 'run'?", "ran"),
    ("Which animal is known as the king of the jungle?", "lion"),
]


def general_instructions() -> list[dict]:
    return [
        {"messages": [{"role": "system", "content": GENERAL_SYSTEM}, {"role": "user", "content": q},
                      {"role": "assistant", "content": a}]}
        for q, a in GENERAL
    ]


def write(directory: Path = DATA_DIR) -> dict[str, int]:
    directory.mkdir(parents=True, exist_ok=True)
    files = {f"tickets_{name}.jsonl": rows for name, rows in ticket_splits().items()}
    files["general_instructions.jsonl"] = general_instructions()
    for name, rows in files.items():
        with (directory / name).open("w", encoding="utf-8", newline="\n") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return {name: len(rows) for name, rows in files.items()}


if __name__ == "__main__":
    for name, count in write().items():
        print(f"{name}: {count} examples")
