"""The one place that talks HTTP to BNR: GET the feed URL with a timeout and a size cap.

Redirects are not followed (the feed has answered with an "Object moved" redirect to its
error page), anything but HTTP 200 is an error, and the body is read in chunks so an
oversized answer is refused without being held in memory.
"""

from __future__ import annotations

import requests
from praho.plugins.bnr_rates.parser import BnrFeedError, BnrFeedTooLarge, describe_html

USER_AGENT = "PRAHO-Billing/1 (+exchange rates for invoices)"


class BnrFetchFailed(BnrFeedError):
    """The feed could not be downloaded (network error, timeout, HTTP status)."""

    reason = "fetch_failed"


def fetch_feed(url: str, *, timeout: float, max_bytes: int) -> bytes:
    """Download the feed body, or raise :class:`BnrFetchFailed` / :class:`BnrFeedTooLarge`."""
    try:
        response = requests.get(
            url,
            timeout=timeout,
            stream=True,
            allow_redirects=False,
            headers={"Accept": "application/xml, text/xml", "User-Agent": USER_AGENT},
        )
    except requests.Timeout:
        raise BnrFetchFailed(
            f"BNR feed {url}: no answer within {timeout:g} s; stored rates are kept"
        ) from None
    except requests.RequestException as error:
        raise BnrFetchFailed(
            f"BNR feed {url}: {type(error).__name__}; stored rates are kept"
        ) from None
    with response:
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=65536):
                size += len(chunk)
                if size > max_bytes:
                    raise BnrFeedTooLarge(
                        f"BNR feed {url}: body exceeds the limit of {max_bytes} bytes"
                    )
                chunks.append(chunk)
        except requests.RequestException as error:
            raise BnrFetchFailed(
                f"BNR feed {url}: {type(error).__name__} while reading; stored rates are kept"
            ) from None
        body = b"".join(chunks)
        if response.status_code != 200:
            what = describe_html(body) if b"<html" in body[:512].lower() else f"{len(body)} bytes"
            location = response.headers.get("Location")
            redirect = f", redirect to {location}" if location else ""
            raise BnrFetchFailed(
                f"BNR feed {url}: HTTP {response.status_code} ({what}{redirect}); "
                "stored rates are kept"
            )
        return body
