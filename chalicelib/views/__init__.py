"""The one view layer: what pages, emails and the public API show of a story.

thread.py    its conversation and progress (receipts, responses, replies; the change a check asks about)
story.py     the story itself, in lists and on its page, and its extras (me too, the change's verdict)
promise.py   the response promise, in dates and states
labels.py    words for values (months, roles, feelings, criticality, days)
people.py    staff subscriptions in words, and the links a subscriber's emails carry

Views import only core and store, never site, edge, mail or a flow, so every wing can use them.
"""

from .thread import conversation, entry_view, progress, receipt_view

__all__ = ["conversation", "entry_view", "progress", "receipt_view"]
