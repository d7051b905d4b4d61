"""The web page end to end in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright).

Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from honestsql.conversation import ENGLISH
from honestsql.memory import Memory
from honestsql.server import ServerConfig, create_app

from .scripted_backend import ScriptedBackend
from .server_fixtures import running
from .test_server import reply

CHROMIUM = os.environ.get("HONESTSQL_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
)
sync_api = pytest.importorskip("playwright.sync_api")


SPLIT = [
    "SELECT COUNT(*) FROM customers",
    "SELECT COUNT(*) FROM orders",
    "SELECT COUNT(*) FROM products",
    "SELECT COUNT(*) FROM order_items",
    "SELECT COUNT(*) FROM customers",
]


def split_reply(request):  # type: ignore[no-untyped-def]
    """Candidates that disagree for questions about "records"; otherwise the server tests'
    replies. A follow-up (every question after the first continues the page's conversation) is
    read as it is written."""
    if request.messages[0]["content"].startswith("You rewrite the last question"):
        return [request.messages[-1]["content"].rsplit("Follow-up: ", 1)[1].split("\n")[0]]
    if "records" in request.messages[-1]["content"].rsplit("Question: ", 1)[-1]:
        return SPLIT[:1] if request.n == 1 else SPLIT[1 : 1 + request.n]
    return reply(request)


def _shop(test_databases, tmp_path: Path, reply) -> ServerConfig:  # type: ignore[no-untyped-def]
    """The test shop served with a scripted model; screenshots go to ARTIFACTS."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ServerConfig(
        {"shop": test_databases["sqlite"].url},
        backend_factory=lambda: ScriptedBackend(reply),
        memory_path=tmp_path / "memory.sqlite",
        audit=False,
    )


def test_ask_abstain_chart_feedback_in_a_browser(test_databases, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = _shop(test_databases, tmp_path, split_reply)
    with running(create_app(config)) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base)
        page.wait_for_selector("#schema details")
        assert page.evaluate("document.activeElement.id") == "question"  # ready to type
        assert "customers" in page.inner_text("#schema")

        # An answer: table, SQL, confidence statement; submitted with the keyboard.
        page.fill("#question", "How many customers live in Germany?")
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict.answered")
        # The stages were shown while it worked (server-sent events), then cleared.
        assert page.evaluate("window.stagesSeen.length") >= 3
        assert any("candidate" in s for s in page.evaluate("window.stagesSeen"))
        assert page.inner_text("#status") == ""
        assert page.inner_text("#result td") == "2"
        assert "COUNT" in page.inner_text("#sql") and "confidence" in page.inner_text("#verdict")
        page.screenshot(path=str(ARTIFACTS / "web-answer.png"), full_page=True)

        # The whole result as a file.
        with page.expect_download() as download:
            page.click("#download-csv")
        saved = tmp_path / "answer.csv"
        download.value.save_as(saved)
        assert saved.read_text().splitlines() == ["COUNT(*)", "2"]

        # Feedback: thumbs up remembers the pair.
        page.click("#thumbs-up")
        page.wait_for_function(
            "document.getElementById('feedback-status').textContent.includes('remembered')"
        )
        assert [pair.question for pair in Memory(config.memory_path).pairs()] == [
            "How many customers live in Germany?"
        ]

        # A chart for one number per category.
        page.fill("#question", "How many customers per country?")
        page.click("#ask-button")
        page.wait_for_selector("#chart:not([hidden]) img")
        page.wait_for_function("document.getElementById('chart-img').naturalWidth > 0")
        page.screenshot(path=str(ARTIFACTS / "web-chart.png"), full_page=True)

        # An abstention, with its reason.
        page.fill("#question", "What is dark matter made of?")
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict.abstained")
        assert "I don't know" in page.inner_text("#verdict")
        assert "None of the question's words" in page.inner_text("#reasons")
        assert page.is_hidden("#sql-block")
        page.screenshot(path=str(ARTIFACTS / "web-abstain.png"), full_page=True)

        # An abstention that still helps: what the candidates found, collapsed and unverified;
        # marking one right keeps it as a verified example.
        page.fill("#question", "How many records are there?")
        page.keyboard.press("Enter")
        page.wait_for_selector("#alternatives:not([hidden])")
        assert "I don't know" in page.inner_text("#verdict")
        assert "Not sure enough to answer" in page.inner_text("#reasons")
        summaries = page.locator("#alternative-list summary").all_inner_texts()
        assert summaries[0] == "(1) 2 of 5 candidates, unverified" and len(summaries) == 4
        first = page.locator("#alternative-list details").first
        first.locator("summary").click()
        assert "FROM customers" in first.locator("pre").inner_text()
        assert first.locator("td").inner_text() == "5"
        page.screenshot(path=str(ARTIFACTS / "web-alternatives.png"), full_page=True)
        first.locator("button").click()
        page.wait_for_function(
            "document.querySelector('.alternative-status').textContent.includes('Remembered')"
        )
        assert "How many records are there?" in [
            p.question for p in Memory(config.memory_path).pairs()
        ]

        # Phone width: nothing spills sideways.
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 391
        page.screenshot(path=str(ARTIFACTS / "web-phone.png"), full_page=True)
        browser.close()


def _conversation_reply(request):  # type: ignore[no-untyped-def]
    from .test_conversation import conversational

    text = request.messages[-1]["content"]
    if request.messages[0]["content"].startswith("You rewrite the last question"):
        return conversational(request.messages, request.n)
    if "'revenue' means" in text:
        defined = (
            "SELECT SUM(order_items.quantity * products.price) FROM order_items "
            "JOIN products ON products.id = order_items.product_id"
        )
        return [defined] * request.n
    if "email" in text.rsplit("Question: ", 1)[-1]:
        return ["SELECT customers.email FROM customers WHERE customers.name = 'Anna'"] * request.n
    return conversational(request.messages, request.n)


def test_conversation_glossary_and_policy_in_a_browser(test_databases, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    glossary = tmp_path / "glossary.yaml"
    glossary.write_text(
        "revenue:\n  sql: SUM(order_items.quantity * products.price)\n  synonyms: [turnover]\n"
    )
    policy = tmp_path / "policy.yaml"
    policy.write_text("deny: [customers.email]\n")
    config = ServerConfig(
        {"shop": test_databases["sqlite"].url},
        backend_factory=lambda: ScriptedBackend(_conversation_reply),
        memory_path=tmp_path / "memory.sqlite",
        conversations_path=tmp_path / "conversations.sqlite",
        audit=False,
        glossary=glossary,
        policy=policy,
    )
    with running(create_app(config)) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base)
        page.wait_for_selector("#schema details")
        page.click("#schema summary:has-text('customers')")
        assert "email" not in page.inner_text("#schema")  # the denied column is not shown

        def ask(question: str, result: str) -> None:
            turns = page.evaluate("thread.length")
            page.fill("#question", question)
            page.keyboard.press("Enter")
            page.wait_for_function("(n) => thread.length === n", arg=turns + 1)
            assert page.inner_text("#result td") == result

        # Three turns: the follow-ups are read in the light of the earlier ones.
        ask("How many customers live in Germany?", "2")
        assert page.is_hidden("#thread") and page.is_hidden("#read-as")
        ask("and in France?", "1")
        assert page.input_value("#read-as-text") == "How many customers live in France?"
        ask("only those older than 40?", "1")
        assert "older than 40" in page.input_value("#read-as-text")
        turns = page.locator("#thread-list li").all_inner_texts()
        assert len(turns) == 2 and "How many customers live in Germany?" in turns[0]
        assert "read as: How many customers live in France?" in turns[1]
        page.screenshot(path=str(ARTIFACTS / "web-conversation.png"), full_page=True)
        # A wrong reading is corrected by hand and asked again.
        page.fill("#read-as-text", "How many customers live in Germany or France?")
        page.click("#read-as-ask")
        page.wait_for_function("thread.length === 4")
        assert page.inner_text("#result td") == "3"
        assert len(page.locator("#thread-list li").all_inner_texts()) == 3

        # A glossary term: the answer uses the owner's definition of revenue.
        page.click("#new-conversation")
        assert page.is_hidden("#thread") and page.is_hidden("#answer")
        page.fill("#question", "What was our total turnover?")
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict.answered")
        assert "order_items.quantity * products.price" in page.inner_text("#sql")

        # A denied column: refused, and the page says why.
        page.fill("#question", "What is Anna's email address?")
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict.abstained")
        assert "The policy denies customers.email" in page.inner_text("#reasons")
        page.screenshot(path=str(ARTIFACTS / "web-policy.png"), full_page=True)
        browser.close()


def _first_hour_reply(request):  # type: ignore[no-untyped-def]
    if request.messages[0]["content"] == ENGLISH:  # a question in another language, restated
        return ["How many customers are there per country?"]
    if request.messages[0]["content"].startswith("You rewrite the last question"):
        return [request.messages[-1]["content"].rsplit("Follow-up: ", 1)[1].split("\n")[0]]
    if any("Mars" in m["content"] for m in request.messages):  # nothing matches, repaired or not
        return ["SELECT name FROM customers WHERE id < 0"] * request.n
    return reply(request)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_first_hour_page_in_a_browser(test_databases, tmp_path: Path, width: int) -> None:  # type: ignore[no-untyped-def]
    """What a new user missed: the question stays with its answer, a sentence built from the
    result, the confidence in plain words with details on demand, every stage as it happens, an
    empty result marked, a history, a SQL box through the same guard, keys and samples in the
    schema browser; at desktop and phone width."""
    config = _shop(test_databases, tmp_path, _first_hour_reply)
    with running(create_app(config)) as base, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(base)
        page.wait_for_selector("#schema details")

        page.fill("#question", "How many customers live in Germany?")
        page.keyboard.press("Enter")
        page.wait_for_selector("#verdict.answered")
        assert page.inner_text("#asked") == "How many customers live in Germany?"
        assert page.inner_text("#sentence") == "The answer is 2."
        assert "likely right" in page.inner_text("#verdict").lower()
        assert page.is_hidden("#notes")  # details on demand
        page.click("#confidence-details summary")
        assert "Estimated chance that this is right" in page.inner_text("#notes")
        seen = page.evaluate("window.stagesSeen")
        assert len(seen) >= 3 and page.is_hidden("#stages")
        assert page.is_hidden("#result-empty")

        page.fill("#target", "0")  # an empty result is never sure (and 0 is a target, not unset)
        page.fill("#question", "Which customers live on Mars?")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('asked').textContent.includes('Mars')")
        page.wait_for_selector("#result-empty:not([hidden])")
        assert page.inner_text("#sentence") == "No row matches."

        # A question in German reaches the model, read in English once, and is answered in
        # German words.
        page.click("#new-conversation")
        page.fill("#question", "Wie viele Kunden gibt es pro Land?")
        page.keyboard.press("Enter")
        page.wait_for_function("document.getElementById('asked').textContent.includes('Kunden')")
        page.wait_for_selector("#result td")
        assert "None of the question's words" not in page.inner_text("#answer")
        assert page.inner_text("#reading") == (
            "Read in English as: How many customers are there per country?"
        )
        assert "Zeile" in page.inner_text("#sentence")  # "3 Zeilen; die ersten: ..."
        assert "Konfidenz" in page.inner_text("#verdict")
        assert page.get_attribute("#sentence", "lang") == "de"
        page.screenshot(path=str(ARTIFACTS / f"web-german-{width}.png"), full_page=True)

        # The history: newest first; a click shows an earlier answer again.
        items = page.locator("#history li").all_inner_texts()
        assert len(items) == 3 and "Mars" in items[1] and "no row matches" in items[1]
        page.locator("#history button").nth(2).click()
        assert page.inner_text("#sentence") == "The answer is 2."

        # The SQL box: refused before it runs, or run read-only.
        page.fill("#sql-box", "DELETE FROM customers")
        page.click("#sql-run")
        page.wait_for_selector("#sql-findings li.finding")
        page.fill("#sql-box", "SELECT name FROM customers WHERE country_code = 'DE' ORDER BY name")
        page.click("#sql-run")
        page.wait_for_selector("#sql-result td")
        assert page.locator("#sql-result td").all_inner_texts() == ["Anna", "Emil"]

        # Verified examples from a file: kept when they verify, each other one named with why.
        pairs = tmp_path / f"team-{width}.csv"
        pairs.write_text(
            "question,sql\n"
            "Customers in Germany,SELECT name FROM customers WHERE country_code = 'DE'\n"
            "Bad,SELECT nope FROM customers\n"
        )
        page.set_input_files("#import-file", str(pairs))
        page.click("#import-run")
        page.wait_for_function(
            "document.getElementById('import-status').textContent.includes('of 2')"
        )
        assert page.inner_text("#import-status").startswith("Remembered 1 new of 2")
        assert "row 2: Bad" in page.inner_text("#import-refused")
        assert "nope" in page.inner_text("#import-refused")
        # ... and back out as the JSON Lines file the import reads.
        with page.expect_download() as download:
            page.click("#export-pairs")
        exported = tmp_path / f"pairs-{width}.jsonl"
        download.value.save_as(exported)
        kept = [json.loads(line) for line in exported.read_text().splitlines()]
        assert {
            "question": "Customers in Germany",
            "sql": "SELECT name FROM customers WHERE country_code = 'DE'",
        } in kept and all(k["question"] != "Bad" for k in kept)
        assert page.inner_text("#export-status") == (
            f"Downloaded {len(kept)} verified example{'s' * (len(kept) != 1)}."
        )

        # The schema browser: keys, foreign keys, sample values.
        text = page.evaluate(
            """[...document.querySelectorAll('#schema details')]
                 .find((d) => d.querySelector('summary').textContent.startsWith('orders '))
                 .textContent"""
        )
        assert "customer_id INTEGER · → customers.id" in text and "id INTEGER · key" in text
        assert "e.g." in page.evaluate("document.getElementById('schema').textContent")

        assert page.evaluate("document.scrollingElement.scrollWidth") <= width + 1
        page.screenshot(path=str(ARTIFACTS / f"web-first-hour-{width}.png"), full_page=True)
        browser.close()
