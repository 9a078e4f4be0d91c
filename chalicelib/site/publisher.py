"""Puts the site's objects to S3, and skips objects whose content has not changed.

For a simple (single part) PutObject, S3's ETag is the MD5 of the body, so one
ListObjectsV2 walk tells a full rebuild which objects it need not upload again.
"""

from __future__ import annotations

import hashlib
from typing import Any


def md5_hex(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def _bytes(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


class Publisher:
    def __init__(self, s3_client: Any, bucket: str):
        self._s3 = s3_client
        self._bucket = bucket
        self.puts = 0
        self.deletes = 0

    def put(self, key: str, body: str | bytes, content_type: str, cache_control: str) -> str:
        """Write one object; returns the MD5 (hex) of what was written."""
        data = _bytes(body)
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=data, ContentType=content_type, CacheControl=cache_control
        )
        self.puts += 1
        return md5_hex(data)

    def delete(self, key: str) -> None:
        """Remove one object. Deleting an object that is not there is not an error (S3 says 204)."""
        self._s3.delete_object(Bucket=self._bucket, Key=key)
        self.deletes += 1

    def etags(self, prefix: str = "") -> dict[str, str]:
        """Every object's key and ETag (the MD5 hex of a simple put), one ListObjectsV2 page per 1,000."""
        out: dict[str, str] = {}
        paginator = self._s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj.get("ETag", "").strip('"')
        return out

    def keys_page(self, after: str, most: int = 1000) -> tuple[list[str], bool]:
        """One ListObjectsV2 page of keys after `after` (no bodies), and whether more follow."""
        args: dict[str, Any] = {"Bucket": self._bucket, "MaxKeys": most}
        if after:
            args["StartAfter"] = after
        resp = self._s3.list_objects_v2(**args)
        return [obj["Key"] for obj in resp.get("Contents", [])], bool(resp.get("IsTruncated"))

    def read(self, key: str) -> bytes | None:
        """One object's body, or None when there is none (the search job's manifests)."""
        try:
            return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except self._s3.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def etag(self, key: str) -> str | None:
        try:
            return self._s3.head_object(Bucket=self._bucket, Key=key)["ETag"].strip('"')
        except self._s3.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def put_if_changed(
        self, key: str, body: str | bytes, content_type: str, cache_control: str, known: dict[str, str] | None = None
    ) -> bool:
        """Write the object unless one with the same content is already there. Returns True if written.

        `known` is a map from etags(); without it, one HeadObject asks. Only the content is
        compared: a change of content type or cache header alone needs a plain put().
        """
        data = _bytes(body)
        digest = md5_hex(data)
        current = known.get(key) if known is not None else self.etag(key)
        if current == digest:
            return False
        self.put(key, data, content_type, cache_control)
        if known is not None:
            known[key] = digest
        return True
