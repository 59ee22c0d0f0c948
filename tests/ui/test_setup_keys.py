"""Setup keeps every key of a fast burst (typed quickly, pasted over ssh, or sent by tmux).

A terminal driver hands keys to the app as fast as they arrive. Textual runs a
widget's key *bindings* (backspace, end, tab) only once the key has bubbled back
up to the app, while printable keys are inserted at once: on a busy, deeply nested
form a later digit overtook an earlier backspace, and keys after a tab went to the
field being left. `burst` posts keys exactly as the driver does, without waiting.
"""

from __future__ import annotations

from test_setup_support import SetupTestApp
from textual import events
from textual.widgets import Input


def burst(app, keys: list[str]) -> None:
    """Post every key at once, as the terminal driver's input thread does."""
    for key in keys:
        event = events.Key(key, key if len(key) == 1 else None)
        event.set_sender(app)
        app._driver.send_message(event)


async def ready(pilot):
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    return pilot.app.screen


async def test_a_burst_of_keys_after_two_tabs_lands_whole_in_examples():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        burst(app, ["tab", "tab", "end"] + ["backspace"] * 8 + list("12345"))
        await pilot.pause(0.5)
        box = screen.query_one("#f-dataset-n", Input)
        assert screen.focused is box
        assert box.value == "12345"


async def test_a_burst_in_a_focused_field_edits_in_order():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        for selector, typed in (("#f-dataset-n", "12345"), ("#batch-text", "8,32,128"),
                                ("#f-optimizer-lr", "0.05")):
            box = screen.query_one(selector, Input)
            box.focus()
            await pilot.pause()
            burst(app, ["end"] + ["backspace"] * 20 + list(typed) + ["left", "left", "backspace", "home"])
            await pilot.pause(0.5)
            assert box.value == typed[:-3] + typed[-2:], selector  # the edit keys kept their place
