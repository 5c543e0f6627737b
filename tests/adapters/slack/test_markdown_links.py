"""Markdown links in model text show their real destination in ``markdown`` blocks."""

from __future__ import annotations

import json

import pytest

from adapters.slack.render import final_messages, member_messages
from adapters.slack.text import escape_markdown, visible_links
from tests.bots.samples import sample_result

PHISH = "[Re-authenticate at slack.com](https://evil.example/login)"


def test_fused_answer_link_shows_its_destination() -> None:
    result = sample_result().model_copy(update={"answer": f"Your session expired. {PHISH}"})
    main, _ = final_messages("U7", result, None, "k")
    answer = next(b["text"] for b in main.blocks if b["type"] == "markdown")
    assert answer == (
        "Your session expired. Re-authenticate at slack.com (https://evil.example/login)"
    )


def test_member_answer_link_shows_its_destination() -> None:
    member = sample_result().answers[0].model_copy(update={"text": PHISH})
    [message] = member_messages(member)
    assert message.blocks[-1]["text"] == (
        "Re-authenticate at slack.com (https://evil.example/login)"
    )


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("[a](http://x)", "a (http://x)"),
        ('[a](http://x "title")', "a (http://x)"),
        ("[a](<http://x y>)", "a (http://x y)"),
        ("![logo](http://x/i.png)", "logo (http://x/i.png)"),
        ("[wiki](https://w.org/Foo_(bar))", "wiki (https://w.org/Foo_(bar))"),
        ("[a [b] c](http://x)", "a [b] c (http://x)"),
        ("[a\\]b](http://x)", "a\\]b (http://x)"),
        ("[two\nlines](http://x)", "two\nlines (http://x)"),
        ("[[in](http://i)](http://out)", "in (http://i) (http://out)"),
        ("[](http://x)", "(http://x)"),
        ("See [docs][1].\n\n[1]: http://evil", "See [docs][1].\n\n[1] http://evil"),
        ("> [r]: http://evil 'T'", "> [r] http://evil 'T'"),
        ("[a [b [c] d] e](http://x)", "[a [b [c] d] e] (http://x)"),
        ("[`slack.com`](http://evil)", "[`slack.com`] (http://evil)"),
        ("[ok](http://x/`) [bad](http://evil) `", "[ok] (http://x/`) [bad] (http://evil) `"),
        ("plain [brackets] and (parens)", "plain [brackets] and (parens)"),
    ],
)
def test_links_become_label_and_destination(raw: str, shown: str) -> None:
    assert visible_links(raw) == shown


def test_code_is_left_alone() -> None:
    code = "```python\nx = d[k](1)  # [a](http://x)\nt: dict[str, int]\n```\n"
    inline = "Write `[text](url)` for a link. "
    assert visible_links(code + inline + PHISH) == (
        code + "Write `[text] (url)` for a link. "
        "Re-authenticate at slack.com (https://evil.example/login)"
    )


def test_an_unclosed_or_indented_fence_does_not_hide_a_link() -> None:
    unclosed = "```\n[a](http://x)"
    assert visible_links(unclosed) == unclosed, "an unclosed fence runs to the end: still code"
    in_list = "1. a\n   ```\n   code\n[bad](http://evil)"
    assert "[bad](" not in visible_links(in_list)
    closed_longer = "```\ncode\n````\n[bad](http://evil)"
    assert visible_links(closed_longer).endswith("bad (http://evil)")
    cr_lines = "```\rcode\r```\r[bad](http://evil)"
    assert visible_links(cr_lines).endswith("bad (http://evil)")


def test_links_are_rewritten_before_slack_escaping() -> None:
    assert escape_markdown("[<!channel>](<http://evil>)") == "&lt;!channel&gt; (http://evil)"


def test_nothing_live_survives_anywhere_in_a_long_answer() -> None:
    answer = ("Intro text. " + PHISH + " `code` [x][1]\n\n[1]: http://evil\n") * 400
    result = sample_result().model_copy(update={"answer": answer})
    main, rest = final_messages("U7", result, None, "k")
    sent = json.dumps([main.blocks, *(m.blocks for m in rest)])
    assert "evil.example/login" in sent
    assert "](" not in sent
    assert "]:" not in sent
