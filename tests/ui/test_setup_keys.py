"""Setup keeps every key of a fast burst (typed quickly, pasted over ssh, or sent by tmux).

A terminal driver hands keys to the app as fast as they arrive. Textual runs a
widget's key *bindings* (backspace, end, tab) only once the key has bubbled back
up to the app, while printable keys are inserted at once: on a busy, deeply nested
form a later digit overtook an earlier backspace, and keys after a tab went to the
field being left. `burst` posts keys exactly as the driver does, without waiting.
"""

from __future__ import annotations

from rich.color import ColorSystem
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


async def test_a_burst_of_keys_after_a_tab_lands_whole_in_examples():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        assert screen.focused.id == "f-dataset-kind"  # the form opens on its first field
        burst(app, ["tab", "end"] + ["backspace"] * 8 + list("12345"))
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


def cells_256(app, widget) -> list[tuple[str, tuple[int, int, int] | None]]:
    """(text, background as a 256-colour terminal shows it) of each segment in the widget's region."""
    region, out = widget.region, []
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        if not region.y <= y < region.bottom:
            continue
        x = 0
        for seg in strip:
            if region.x <= x < region.right and seg.style and seg.style.bgcolor:
                rgb = seg.style.bgcolor.downgrade(ColorSystem.EIGHT_BIT).get_truecolor()
                out.append((seg.text, (rgb.red, rgb.green, rgb.blue)))
            x += seg.cell_length
    return out


def clearly_apart(a, b) -> bool:
    return a is not None and b is not None and max(abs(p - q) for p, q in zip(a, b, strict=True)) >= 48


async def test_every_tab_stop_shows_its_focus_at_256_colours():
    app = SetupTestApp()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ready(pilot)
        chain = list(screen.focus_chain)
        screen.set_focus(None)
        await pilot.pause()
        blurred = {w: {bg for _, bg in cells_256(app, w)} for w in chain}
        chain[-1].focus()
        assert chain[-1].id == "setup-run"
        for _ in range(len(chain)):  # a whole round, from "Run ▶" back to it
            await pilot.press("tab")
            await pilot.pause()
            widget = screen.focused
            assert widget in blurred, f"tab landed on {widget!r}, which is no field"
            focused = {bg for _, bg in cells_256(app, widget)}
            assert any(all(clearly_apart(f, b) for b in blurred[widget]) for f in focused), \
                f"{widget!r}: focus is not visible at 256 colours ({focused} vs {blurred[widget]})"
