"""Pure rules of employee advocacy (issue #16): links that measure, near-duplicate shares, and the
OAuth 2.0 PKCE pair an advocate's connection uses. No I/O: the node, the hub and the dispatcher
share them."""
