"""Tokens that fit their transport: each token's encoded size, estimated as Cognito will issue it.

Modules: `writers` (bytes of JSON as each writer Cognito may use writes it), `cognito` (Cognito's
own claims, the header and the signature), `size` (a token's estimate, in every form or only
the longest), `shed` (the shedding order).
"""

__all__ = ()
