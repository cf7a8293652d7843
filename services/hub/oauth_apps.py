"""The apps Relais registered with each network for advocates' personal accounts (issue #16 item 2),
read once from the hub's OAuth apps file: the client secrets stay at the hub, never on the bus.

`RELAIS_OAUTH_APPS` (default `<data dir>/keys/oauth-apps.json`, mode 0600 like every file the
services create) holds, per network of `shared.advocacy.oauth.OAUTH_NETWORKS`:

    {"x": {"client_id": "…", "client_secret": "…",
           "redirect_uri": "https://hub.example/oauth/x/callback", "root": ""}}

`root` (optional) replaces the network's hosts (authorisation, token and identity endpoints): the
sandbox's address in tests and `make run`; empty or absent for the real network.

Mastodon has no central host: an app is registered on ONE instance (its `POST /api/v1/apps` gives
that instance's client id and secret), so the Mastodon entry names it, `"instance":
"https://social.example"`, and the hub connects accounts of that instance only. Sending the app's
secret to whichever instance a node names would hand it to any host a hostile node chose, and make
the hub call it. Only with a `root` (the sandbox) may the entry leave `instance` out. A missing file
configures no app: every connection request is then refused (`not_configured`). No value ever
appears in a log, an error or a repr (errors name the file and the key, never what is in it).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from shared import config
from shared.advocacy.oauth import OAUTH_NETWORKS, AppCredentials
from shared.private_files import read_private_json

__all__ = ["IDENTITY", "OAuthApp", "OAuthApps", "load_oauth_apps", "oauth_apps_path", "same_instance"]

# Where each network says who the token's account is (the real hosts; an app's `root` replaces them):
# X `GET /2/users/me` (users.read), LinkedIn's OpenID Connect `GET /v2/userinfo` (openid profile),
# Mastodon `GET /api/v1/accounts/verify_credentials` (read:accounts), on the account's instance.
IDENTITY: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "x": ("https://api.x.com", "/2/users/me"),
        "linkedin": ("https://api.linkedin.com", "/v2/userinfo"),
        "mastodon": ("", "/api/v1/accounts/verify_credentials"),
    }
)


@dataclass(frozen=True)
class OAuthApp:
    credentials: AppCredentials
    root: str = ""  # replaces the network's hosts (the sandbox); "" for the real network
    instance: str = ""  # Mastodon: the one instance the app is registered on (see the module's docstring)

    def takes_instance(self, instance: str) -> bool:
        """Whether an account of `instance` may connect through this app."""
        if not self.instance:
            return bool(self.root)  # the sandbox plays every instance
        return same_instance(instance, self.instance)


def same_instance(first: str, second: str) -> bool:
    """Two https addresses of one instance (case of the host, default port and final / aside)."""
    a, b = urlsplit(first.strip()), urlsplit(second.strip())
    return (a.scheme, a.hostname, a.port or 443) == (b.scheme, b.hostname, b.port or 443)


@dataclass(frozen=True)
class OAuthApps:
    apps: Mapping[str, OAuthApp] = field(default_factory=dict, repr=False)

    def get(self, network: str) -> OAuthApp | None:
        return self.apps.get(network)


def oauth_apps_path(env: Mapping[str, str] = os.environ) -> Path:
    explicit = env.get("RELAIS_OAUTH_APPS")
    return Path(explicit) if explicit else config.data_dir(env) / "keys" / "oauth-apps.json"


def load_oauth_apps(path: Path) -> OAuthApps:
    """The apps of `path`, or none when it does not exist; ValueError for a malformed file."""
    raw = read_private_json(path)
    if raw is None:
        return OAuthApps()
    apps: dict[str, OAuthApp] = {}
    for network, entry in raw.items():
        if network not in OAUTH_NETWORKS:
            raise ValueError(f"{path}: {network!r} is not one of {', '.join(OAUTH_NETWORKS)}")
        keys = ("client_id", "client_secret", "redirect_uri")
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) and entry[k] for k in keys):
            raise ValueError(f'{path}: "{network}" needs non-empty client_id, client_secret and redirect_uri')
        root = entry.get("root", "")
        if not isinstance(root, str):
            raise ValueError(f'{path}: "{network}".root must be a string')
        instance = entry.get("instance", "")
        if not isinstance(instance, str) or (instance and urlsplit(instance).scheme != "https"):
            raise ValueError(f'{path}: "{network}".instance must be an https:// address')
        if network == "mastodon" and not (instance or root):
            raise ValueError(f'{path}: "mastodon" needs the instance its app is registered on')
        credentials = AppCredentials(entry["client_id"], entry["client_secret"], entry["redirect_uri"])
        apps[network] = OAuthApp(credentials, root, instance)
    return OAuthApps(MappingProxyType(apps))
