"""The handlers users commonly write instead, on the same table, item and events.

Each is written the way it usually is, not tuned: module-level clients with the SDK's defaults,
and the reference mapping (`first_name`, `last_name` to the ID token, `interesting_value` to the
access token) with the request's groups copied back.
"""
