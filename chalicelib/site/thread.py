"""The conversation on a story, as pages show it: now in chalicelib/views.py, shared with the
emails and the public API. Kept so the renderer's imports stay as they are."""

from ..views import STEPS, conversation, entry_view, progress, receipt_view  # noqa: F401
