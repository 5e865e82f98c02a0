"""HTTP session layer: pooling, proxies, retries, per-host rate limit, SSRF guard, cookies."""

from mediavault.net.cookies import cookie_header, load_netscape_cookies, parse_cookie_text
from mediavault.net.errors import translate_error
from mediavault.net.guard import HostPolicy
from mediavault.net.ratelimit import HostRateLimiter, RateLimit
from mediavault.net.retry import RetryPolicy, parse_retry_after
from mediavault.net.session import HttpSession

__all__ = [
    "HostPolicy",
    "HostRateLimiter",
    "HttpSession",
    "RateLimit",
    "RetryPolicy",
    "cookie_header",
    "load_netscape_cookies",
    "parse_cookie_text",
    "parse_retry_after",
    "translate_error",
]
