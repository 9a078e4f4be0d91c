"""The public static site: page builders (render), the S3 publisher, the form and sign-up pages, feeds, search, the widget.

Nothing here builds a client or a Jinja environment at import: the API imports these lazily.
"""
