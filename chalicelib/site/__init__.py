"""The public static site: page builders (render), the S3 publisher, the form, the author's private page.

Nothing here builds a client or a Jinja environment at import: the API imports these lazily.
"""
