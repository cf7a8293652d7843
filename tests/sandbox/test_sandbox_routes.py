"""The emulators' routes, declared on their handlers: the table they make, its order, and `add_api`.

Order is policy here, not an accident: aiohttp tries routes in the order they were added, and some
emulators' patterns also match other emulators' paths (Instagram's `/{version}/{object_id}` matches
Threads' `/v1.0/{media_id}`; Facebook's `/{page_id}/videos` matches LinkedIn's `/rest/videos` and
Telegram's `/bot{token}/{method}`). The expected table below is written from the networks' paths.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

import services.sandbox
from services.sandbox.app import create_app
from services.sandbox.routes import add_api, route, routes_of
from services.sandbox.settings import Settings

_FB = "/{version}"  # Facebook's and Instagram's optional version prefix, as aiohttp names it

# (method, path, handler) of every emulator route but HEAD, in the order they must be tried.
EMULATOR_ROUTES = [
    ("POST", "/2/tweets", "XApi.create"),
    ("GET", "/2/users/{user_id}/tweets", "XApi.timeline"),
    ("GET", "/2/users/{user_id}/mentions", "XApi.mentions"),
    ("GET", "/2/tweets/{post_id}", "XApi.read"),
    ("GET", "/2/users/me", "XApi.me"),
    ("POST", "/2/media/upload", "XApi.upload"),
    ("POST", "/2/media/upload/initialize", "XApi.initialize"),
    ("POST", "/2/media/upload/{media_id}/append", "XApi.append"),
    ("POST", "/2/media/upload/{media_id}/finalize", "XApi.finalize"),
    ("GET", "/2/media/upload", "XApi.status"),
    ("POST", "/2/media/metadata", "XApi.metadata"),
    ("POST", "/api/v1/statuses", "MastodonApi.create"),
    ("POST", "/api/v2/media", "MastodonApi.upload"),
    ("GET", "/api/v1/media/{media_id}", "MastodonApi.media"),
    ("GET", "/api/v1/notifications", "MastodonApi.notifications"),
    ("GET", "/api/v1/statuses/{status_id}/context", "MastodonApi.context"),
    ("GET", "/api/v1/statuses/{status_id}", "MastodonApi.read"),
    ("GET", "/api/v1/accounts/{account_id}/statuses", "MastodonApi.account_statuses"),
    ("GET", "/api/v1/accounts/verify_credentials", "MastodonApi.verify_credentials"),
    ("GET", "/api/v2/instance", "MastodonApi.instance"),
    ("POST", "/xrpc/com.atproto.server.createSession", "BlueskyApi.create_session"),
    ("POST", "/xrpc/com.atproto.server.refreshSession", "BlueskyApi.refresh_session"),
    ("POST", "/xrpc/com.atproto.repo.uploadBlob", "BlueskyApi.upload_blob"),
    ("GET", "/xrpc/com.atproto.server.getServiceAuth", "BlueskyApi.service_auth"),
    ("POST", "/xrpc/app.bsky.video.uploadVideo", "BlueskyApi.upload_video"),
    ("GET", "/xrpc/app.bsky.video.getJobStatus", "BlueskyApi.job_status"),
    ("POST", "/xrpc/com.atproto.repo.createRecord", "BlueskyApi.create_record"),
    ("GET", "/xrpc/com.atproto.repo.getRecord", "BlueskyApi.get_record"),
    ("GET", "/xrpc/com.atproto.repo.listRecords", "BlueskyApi.list_records"),
    ("GET", "/xrpc/app.bsky.feed.getPostThread", "BlueskyApi.post_thread"),
    ("GET", "/xrpc/app.bsky.feed.getPosts", "BlueskyApi.get_posts"),
    ("GET", "/xrpc/app.bsky.notification.listNotifications", "BlueskyApi.list_notifications"),
    ("POST", "/rest/posts", "LinkedInApi.create"),
    ("POST", "/rest/images", "LinkedInApi.initialize_upload"),
    ("PUT", "/dms-uploads/{token}", "LinkedInApi.upload"),
    ("POST", "/rest/videos", "LinkedInApi.videos"),
    ("PUT", "/dms-uploads/video-parts/{token}", "LinkedInApi.video_part"),
    ("GET", "/rest/videos/{urn}", "LinkedInApi.video"),
    ("GET", "/rest/posts", "LinkedInApi.find"),
    ("GET", "/rest/posts/{urn}", "LinkedInApi.read"),
    ("GET", "/rest/socialActions/{target}/comments", "LinkedInApi.comments"),
    ("GET", "/rest/socialActions/{target}", "LinkedInApi.social_actions"),
    ("GET", "/rest/organizationalEntityShareStatistics", "LinkedInApi.share_statistics"),
    ("POST", "/_sandbox/linkedin/comments", "LinkedInApi.write_comments"),
    ("POST", "/rest/socialActions/{target}/comments", "LinkedInApi.comment"),
    ("DELETE", "/_sandbox/linkedin/comments/{comment_id}", "LinkedInApi.delete_comment"),
    ("*", "/bot{token}/{method}", "TelegramApi.call"),
    ("POST", "/upload/youtube/v3/videos", "YouTubeApi.start"),
    ("PUT", "/upload/youtube/v3/videos", "YouTubeApi.upload"),
    ("GET", "/youtube/v3/channels", "YouTubeApi.channels"),
    ("GET", "/youtube/v3/playlistItems", "YouTubeApi.playlist_items"),
    ("GET", "/youtube/v3/commentThreads", "YouTubeCommentsApi.comment_threads"),
    ("GET", "/youtube/v3/videos", "YouTubeCommentsApi.videos"),
    ("GET", "/youtube/v3/comments", "YouTubeCommentsApi.comments"),
    ("POST", "/youtube/v3/comments/setModerationStatus", "YouTubeCommentsApi.set_moderation_status"),
    ("POST", "/youtube/v3/comments", "YouTubeCommentsApi.insert"),
    ("DELETE", "/_sandbox/youtube/comments/{comment_id}", "YouTubeCommentsApi.delete"),
    ("POST", "/_sandbox/youtube/comments", "YouTubeCommentsApi.write"),
    # Threads' literal /v1.0 paths, then Instagram's, then Facebook's page-id patterns.
    ("POST", "/v1.0/{user_id}/threads", "ThreadsApi.create_container"),
    ("POST", "/v1.0/{user_id}/threads_publish", "ThreadsApi.publish"),
    ("GET", "/v1.0/{user_id}/threads", "ThreadsApi.threads"),
    ("GET", "/v1.0/{user_id}/replies", "ThreadsApi.replies"),
    ("GET", "/v1.0/{media_id}", "ThreadsApi.read"),
    ("GET", "/v1.0/{media_id}/insights", "ThreadsApi.media_insights"),
    *[
        (method, prefix + path, handler)
        for prefix in (_FB, "")
        for method, path, handler in [
            ("POST", "/{user_id}/media", "InstagramApi.create_container"),
            ("POST", "/{user_id}/media_publish", "InstagramApi.publish"),
            ("GET", "/{user_id}/media", "InstagramApi.media"),
            ("GET", "/{object_id}", "InstagramApi.read"),
            ("GET", "/{object_id}/insights", "InstagramApi.media_insights"),
            ("POST", "/{comment_id}", "InstagramApi.update"),
            ("POST", "/{comment_id}/replies", "InstagramApi.reply"),
            ("GET", "/{comment_id}/replies", "InstagramApi.replies"),
        ]
    ],
    *[
        (method, prefix + path, handler)
        for prefix in (_FB, "")
        for method, path, handler in [
            ("POST", "/{page_id}/feed", "FacebookApi.create"),
            ("POST", "/{page_id}/photos", "FacebookApi.photos"),
            ("POST", "/{page_id}/videos", "FacebookApi.videos"),
            ("GET", "/{page_id}/videos", "FacebookApi.page_videos"),
            ("GET", "/{page_id}/feed", "FacebookApi.feed"),
            ("GET", "/{post_id}", "FacebookApi.read"),
            ("GET", "/{post_id}/insights", "FacebookApi.post_insights"),
            ("POST", "/{post_id}", "FacebookApi.update"),
            ("POST", "/{comment_id}/comments", "FacebookApi.reply"),
            ("GET", "/{comment_id}/comments", "FacebookApi.replies"),
            ("POST", "/{page_id}/messages", "FacebookApi.send_message"),
        ]
    ],
    ("POST", "/api/2/upload_slideshow", "SlideShareApi.upload"),
    ("GET", "/api/2/get_slideshow", "SlideShareApi.get_slideshow"),
    ("GET", "/api/2/get_slideshows_by_user", "SlideShareApi.get_slideshows_by_user"),
]

# Requests more than one emulator's pattern matches, and the handler that must answer each.
CONTESTED = [
    ("GET", "/v1.0/17841400000000001", "ThreadsApi.read"),  # also Instagram's /{version}/{object_id}
    ("GET", "/v21.0/17841400000000001", "InstagramApi.read"),
    ("GET", "/17841400000000001", "InstagramApi.read"),
    ("GET", "/v21.0/1234_5678", "FacebookApi.read"),
    ("GET", "/1234_5678", "FacebookApi.read"),
    # Hiding a comment (#15): Instagram's ids are digits, Facebook's `{post}_{comment}`.
    ("POST", "/v21.0/17841400000000001", "InstagramApi.update"),
    ("POST", "/v21.0/1234_5678", "FacebookApi.update"),
    ("POST", "/1234_5678", "FacebookApi.update"),
    ("POST", "/rest/videos", "LinkedInApi.videos"),  # also Facebook's /{page_id}/videos
    ("GET", "/rest/posts", "LinkedInApi.find"),
    ("POST", "/bot123:secret/feed", "TelegramApi.call"),  # also Facebook's /{page_id}/feed
    ("GET", "/bot123:secret/videos", "TelegramApi.call"),
    ("POST", "/bot123:secret/media", "TelegramApi.call"),  # also Instagram's /{user_id}/media
    ("GET", "/v1.0/42/threads", "ThreadsApi.threads"),
    ("GET", "/v21.0/42/media", "InstagramApi.media"),
    ("POST", "/v21.0/42/videos", "FacebookApi.videos"),
    ("GET", "/2/media/upload", "XApi.status"),
    ("POST", "/2/media/upload", "XApi.upload"),
    ("PUT", "/upload/youtube/v3/videos", "YouTubeApi.upload"),
    # Answering people (#15): Threads' literal /v1.0 replies before Instagram's comment replies, the
    # bot's methods before Facebook's page and comment patterns.
    ("GET", "/v1.0/42/replies", "ThreadsApi.replies"),
    ("GET", "/v21.0/17900000000000001/replies", "InstagramApi.replies"),
    ("POST", "/v21.0/17900000000000001/replies", "InstagramApi.reply"),
    ("POST", "/v21.0/1234_5678/comments", "FacebookApi.reply"),
    ("POST", "/bot123:secret/comments", "TelegramApi.call"),
    ("POST", "/bot123:secret/messages", "TelegramApi.call"),
    ("POST", "/v21.0/1001/messages", "FacebookApi.send_message"),
    ("POST", "/rest/socialActions/urn:li:comment:(urn:li:share:1,2)/comments", "LinkedInApi.comment"),
    # A post's figures (#15): Threads' literal /v1.0 insights before Instagram's, Facebook's post ids.
    ("GET", "/v1.0/17841400000000001/insights", "ThreadsApi.media_insights"),
    ("GET", "/v21.0/17841400000000001/insights", "InstagramApi.media_insights"),
    ("GET", "/17841400000000001/insights", "InstagramApi.media_insights"),
    ("GET", "/v21.0/1234_5678/insights", "FacebookApi.post_insights"),
    ("GET", "/1234_5678/insights", "FacebookApi.post_insights"),
    ("GET", "/bot123:secret/insights", "TelegramApi.call"),
    ("GET", "/rest/socialActions/urn:li:share:1", "LinkedInApi.social_actions"),
]


def _handler_name(handler: Any) -> str:
    return str(getattr(handler, "__qualname__", handler))


@pytest.fixture
def app(tmp_path: Path) -> web.Application:
    return create_app(Settings(data_dir=tmp_path / "data"))


def _emulator_routes(app: web.Application) -> list[tuple[str, str, str]]:
    """The app's routes served by an emulator's API object (bound methods), in the order added."""
    return [
        (r.method, r.resource.canonical, _handler_name(r.handler))
        for r in app.router.routes()
        if r.resource is not None and inspect.ismethod(r.handler)
    ]


def test_the_emulators_routes_are_the_written_table_in_order(app: web.Application) -> None:
    routes = _emulator_routes(app)
    assert [route for route in routes if route[0] != "HEAD"] == EMULATOR_ROUTES
    heads = [(path, handler) for method, path, handler in routes if method == "HEAD"]
    assert heads == [(path, handler) for method, path, handler in EMULATOR_ROUTES if method == "GET"]


@pytest.mark.parametrize(("method", "path", "handler"), CONTESTED)
async def test_a_path_several_emulators_match_reaches_the_right_one(
    app: web.Application, method: str, path: str, handler: str
) -> None:
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    assert _handler_name(match.handler) == handler


def _marked_functions() -> dict[str, tuple[tuple[str, str], ...]]:
    """Every function in the sandbox package that `@route` marked, by qualified name."""
    marked = {}
    for module_info in pkgutil.iter_modules(services.sandbox.__path__):
        module = importlib.import_module(f"services.sandbox.{module_info.name}")
        for klass in vars(module).values():
            if inspect.isclass(klass) and klass.__module__ == module.__name__:
                for function in vars(klass).values():
                    if routes_of(function):
                        marked[function.__qualname__] = routes_of(function)
    return marked


def test_every_marked_handler_is_registered_once_per_prefix(app: web.Application) -> None:
    routes = [route for route in _emulator_routes(app) if route[0] != "HEAD"]
    assert [route for route, count in Counter(routes).items() if count > 1] == []
    marked = _marked_functions()
    assert {handler for _, _, handler in routes} == set(marked)
    for qualname, marks in marked.items():
        registered = [(method, path) for method, path, handler in routes if handler == qualname]
        prefixes = 2 if qualname.startswith(("FacebookApi.", "InstagramApi.")) else 1
        assert len(registered) == len(marks) * prefixes, qualname
        assert {method for method, _ in registered} == {method for method, _ in marks}, qualname


class _Base:
    @route("GET", "/base")
    async def base(self, request: web.Request) -> web.Response:
        return web.Response(text="base")


class _Api(_Base):
    @route("POST", "/first")
    @route("PUT", "/first")
    async def first(self, request: web.Request) -> web.Response:
        return web.Response(text="first")

    async def unmarked(self, request: web.Request) -> web.Response:
        return web.Response(text="unmarked")

    @route("*", "/second/{name}")
    async def second(self, request: web.Request) -> web.Response:
        return web.Response(text="second")


def test_add_api_adds_marked_methods_in_written_order_under_each_prefix() -> None:
    app = web.Application()
    add_api(app, _Api(), prefixes=("/v2", ""))
    routes = [(r.method, r.resource.canonical) for r in app.router.routes() if r.resource is not None]
    expected = [
        ("HEAD", "/base"),
        ("GET", "/base"),
        ("POST", "/first"),
        ("PUT", "/first"),
        ("*", "/second/{name}"),
    ]
    assert routes == [(method, "/v2" + path) for method, path in expected] + expected
