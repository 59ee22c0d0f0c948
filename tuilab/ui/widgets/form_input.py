"""A text box that keeps every key of a fast burst, in order.

Textual inserts a printable key as soon as the Input gets it, but runs the
Input's key *bindings* (backspace, delete, arrows, home, end) only after the key
has bubbled back up through every container to the app. In the Setup form that
is eight hops, and each change re-checks the form: a digit arriving right after
a backspace overtook it, so keys typed fast, pasted over ssh or sent by tmux were
lost or reordered. A FormInput runs its own bindings the moment a key reaches it.
"""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class FormInput(Input):
    """An Input whose edit keys take effect in the order they were typed."""

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()  # handled: Input's own handler and the bubble to the app skip it
                return
