"""The dashboard's ASGI application (Starlette): the pages, the actions,
the static files, and the pages for errors. Every page is rendered on the
server, so its tables work without JavaScript; `static/dashboard.js` asks
for the page's live part again every few seconds (the request carries
`X-Ardiq-Fragment: 1`) and puts it in place without a reload.

Links are relative to the ASGI `root_path`, so the application can be
mounted under a path of another one (`api.mount("/ardiq", ...)`)."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ardiq.dashboard import display
from ardiq.dashboard.access import COOKIE, Access, Forbidden, cross_site
from ardiq.dashboard.reading import QueueNotFound, Reader
from ardiq.errors import (
    ArdiqError,
    AuthenticationFailed,
    InvalidJobId,
    InvalidQueueName,
    RedisCommandError,
    RedisUnavailable,
)
from ardiq.inspect import ListState
from ardiq.job import AbortReply, JobStatus

HERE = Path(__file__).resolve().parent
logger = logging.getLogger("ardiq")
#: The most a form's body may be (every form here holds a few short fields).
FORM_LIMIT = 16 * 1024
#: Content-Security-Policy: nothing but the dashboard's own files; no inline script.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: What an action's redirect says on the next page, by `notice` code.
NOTICES = {
    "replayed": "Replayed: job {subject} is queued again.",
    "deleted": "Deleted entry {subject}.",
    "gone": "Entry {subject} is gone already (replayed, deleted, trimmed or expired).",
    "purged": "Purged: {subject} waiting and scheduled jobs removed.",
    "signed_in": "Signed in: actions are on.",
    "signed_out": "Signed out.",
    **{
        f"abort_{reply.value}": f"Abort of job {{subject}}: {reply.value.replace('_', ' ')}."
        for reply in AbortReply
    },
}
TABS = [ListState.RUNNING, ListState.SCHEDULED, ListState.FAILED, ListState.DEAD]
#: Host names every dashboard answers to: loopback, as a browser on this
#: machine names it (an IPv6 literal keeps its brackets in a Host header).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """How one dashboard runs (see `ardiq.dashboard.dashboard`)."""

    url: str
    queues: list[str] | None = None
    allow_actions: bool = False
    token: str | None = None
    refresh_s: float = 2.0
    value_limit: int = 8_192
    page_size: int = 50
    connect_timeout_s: float = 2.0
    timeout_s: float = 5.0
    #: Host names answered besides `LOOPBACK_HOSTS` (a proxy's name, the
    #: address listened on; `*.example.com` and `*` as Starlette takes them).
    allowed_hosts: list[str] = dataclasses.field(default_factory=list)


class BadRequest(Exception):
    """A form or parameter that makes no sense; status 400."""


class JobNotFound(LookupError):
    """The job page's job is unknown; status 404."""


class SecurityHeaders:
    """Adds the content policy and its companions to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("content-security-policy", POLICY)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
                headers.setdefault("x-frame-options", "DENY")
            await send(message)

        await self.app(scope, receive, sending)


def href(request: Request, path: str, **params: object) -> str:
    """`path` of this application under its mount point, with a query."""
    query = urlencode({key: str(value) for key, value in params.items() if value is not None})
    return root(request) + path + (f"?{query}" if query else "")


def root(request: Request) -> str:
    """The path this application is mounted at (`""` at the top)."""
    mounted: str = request.scope.get("root_path", "") or ""
    return mounted


def here(request: Request) -> str:
    """This page's path and query, without a notice of a previous action."""
    query = [
        (key, value) for key, value in request.query_params.multi_items() if key not in ("notice", "subject")
    ]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


async def form_fields(request: Request) -> dict[str, str]:
    """The fields of a URL-encoded form body (the only kind these pages
    send), at most `FORM_LIMIT` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise BadRequest("the form is too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


class Site:
    """The pages and actions of one dashboard."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.reader = Reader(
            settings.url,
            settings.queues,
            cache_s=min(1.0, settings.refresh_s / 2),
            connect_timeout_s=settings.connect_timeout_s,
            timeout_s=settings.timeout_s,
        )
        self.access = Access(settings.allow_actions, settings.token)
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=jinja2.select_autoescape(default=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(
            when=display.when,
            duration=display.duration,
            size=display.size,
            rate=display.rate,
        )

    # -- rendering ---------------------------------------------------------

    def render(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        fragment = request.headers.get("x-ardiq-fragment") == "1"
        at_ms = display.now_ms()
        notice = NOTICES.get(request.query_params.get("notice", ""))
        values: dict[str, Any] = {
            "layout": "fragment.html" if fragment else "base.html",
            "request": request,
            "href": lambda path, **params: href(request, path, **params),
            "here": here(request),
            "now_ms": at_ms,
            "ago": lambda ms: display.ago(ms, at_ms),
            "shown": lambda value, limit=self.settings.value_limit: display.shown(value, limit),
            "clipped": display.clipped,
            "actions": self.access.allow_actions,
            "signed_in": self.access.signed_in(request),
            "refresh_ms": round(self.settings.refresh_s * 1000),
            "notice": notice.format(subject=request.query_params.get("subject", "")) if notice else None,
            "redis": display.redacted(self.settings.url),
            "shown_queues": self.settings.queues,
            "States": ListState,
            "Status": JobStatus,
        }
        values.update(context)
        html = self.templates.get_template(template).render(values)
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    def page(
        self, handler: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A page: it keeps the throughput sampler going while people look."""

        async def serve(request: Request) -> Response:
            self.reader.wanted(self.settings.refresh_s)
            return await handler(request)

        return serve

    # -- pages -------------------------------------------------------------

    async def overview(self, request: Request) -> Response:
        overview = await self.reader.overview()
        throughput = self.reader.throughput
        chart = display.chart(
            overview.throughput, throughput.bucket_ms, throughput.span_ms, overview.throughput_until_ms
        )
        return self.render(request, "overview.html", title="Overview", overview=overview, chart=chart)

    async def queue(self, request: Request) -> Response:
        name = request.query_params.get("name", "")
        state = self.state_param(request, "state", ListState.RUNNING)
        cursor = request.query_params.get("cursor") or None
        info = await self.reader.queue(name)
        workers = await self.reader.workers(name)
        schedules = await self.reader.schedules(name)
        try:
            page = await self.reader.jobs(name, state, self.settings.page_size, cursor)
        except ArdiqError as exc:
            if isinstance(exc, RedisUnavailable | AuthenticationFailed | RedisCommandError):
                raise
            raise BadRequest(f"cannot list {state.value} jobs from cursor {cursor!r}: {exc}") from None
        return self.render(
            request,
            "queue.html",
            title=f"Queue {name}",
            info=info,
            workers=workers,
            schedules=schedules,
            state=state,
            page=page,
            cursor=cursor,
            tabs=TABS,
        )

    async def job(self, request: Request) -> Response:
        queue = request.query_params.get("queue", "")
        job_id = request.query_params.get("id", "").strip()
        if not job_id:
            raise BadRequest("give a job id")
        try:
            details = await self.reader.job(queue, job_id)
        except InvalidJobId:
            raise JobNotFound(job_id, queue) from None
        listed = None
        for state in (ListState.FAILED, ListState.DEAD):
            entry_id = request.query_params.get(state.value)
            if entry_id:
                listed = await self.reader.entry(queue, state, entry_id)
                if listed is not None and listed.job_id != job_id:
                    listed = None
        if details.status is JobStatus.NOT_FOUND and listed is None:
            raise JobNotFound(job_id, queue)
        return self.render(
            request,
            "job.html",
            title=f"Job {job_id}",
            queue=queue,
            job_id=job_id,
            details=details,
            listed=listed,
            record=details.job or (listed.job if listed else None),
            abortable=details.status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.RUNNING),
        )

    async def workers(self, request: Request) -> Response:
        only = request.query_params.get("queue") or None
        if only is None:
            shown_workers = (await self.reader.overview()).workers
        else:
            await self.reader.queue(only)
            shown_workers = await self.reader.workers(only)
        return self.render(request, "workers.html", title="Workers", only=only, shown_workers=shown_workers)

    async def store(self, request: Request) -> Response:
        """Kept failures or dead letters of every queue, a page each."""
        state = ListState.FAILED if request.url.path.endswith("/failed") else ListState.DEAD
        overview = await self.reader.overview()
        sections = []
        for row in overview.queues:
            if (row.info.failed if state is ListState.FAILED else row.info.dead) == 0:
                continue
            page = await self.reader.jobs(row.info.queue, state, self.settings.page_size, None)
            sections.append((row, page))
        title = "Failed jobs" if state is ListState.FAILED else "Dead letters"
        return self.render(request, "store.html", title=title, state=state, sections=sections)

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return self.render(
                request, "login.html", title="Sign in", wrong=False, next=request.query_params.get("next", "")
            )
        if cross_site(request):
            raise Forbidden("sign in from the dashboard's own page")
        fields = await form_fields(request)
        session = self.access.session_for(fields.get("token", ""))
        if session is None:
            if not self.access.allow_actions:
                raise Forbidden("this dashboard is read-only: there is nothing to sign in to")
            return self.render(
                request, "login.html", status=403, title="Sign in", wrong=True, next=fields.get("next", "")
            )
        response = self.redirect(request, fields.get("next"), "signed_in", "")
        response.set_cookie(
            COOKIE,
            session,
            path=root(request) + "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def logout(self, request: Request) -> Response:
        if cross_site(request):
            raise Forbidden("sign out from the dashboard's own page")
        response = self.redirect(request, None, "signed_out", "")
        response.delete_cookie(COOKIE, path=root(request) + "/")
        return response

    # -- actions -----------------------------------------------------------

    async def act(self, request: Request) -> Response:
        self.access.check(request)
        action = request.path_params["action"]
        fields = await form_fields(request)
        queue = fields.get("queue", "")
        self.reader.shown(queue)
        if action in ("replay", "delete"):
            state = self.state_field(fields)
            entry_id = fields.get("entry", "")
            if not entry_id:
                raise BadRequest("name the entry")
            notice, subject = await self.store_action(action, state, queue, entry_id)
        elif action == "abort":
            job_id = fields.get("job", "")
            if not job_id:
                raise BadRequest("name the job")
            reply = await self.reader.app.job(job_id, queue=queue).abort()
            notice, subject = f"abort_{reply.value}", job_id
        elif action == "purge":
            if fields.get("confirm", "").strip() != queue:
                raise BadRequest("not confirmed: type the queue's name to purge it; nothing was removed")
            notice, subject = "purged", str(await self.reader.app.purge(queue))
        else:
            raise BadRequest(f"no action {action!r}")
        self.reader.forget()
        logger.info("dashboard: %s on queue %s: %s %s", action, queue, notice, subject)
        return self.redirect(request, fields.get("next"), notice, subject)

    async def store_action(self, action: str, state: ListState, queue: str, entry_id: str) -> tuple[str, str]:
        failed = state is ListState.FAILED
        if action == "replay":
            if failed:
                job = await self.reader.app.replay_failure(entry_id, queue=queue)
            else:
                job = await self.reader.on_queue(queue).replay_dead_letter(entry_id)
            return ("gone", entry_id) if job is None else ("replayed", job.id)
        if failed:
            removed = await self.reader.app.delete_failures([entry_id], queue=queue)
        else:
            removed = await self.reader.on_queue(queue).delete_dead_letters([entry_id])
        return ("deleted" if removed else "gone", entry_id)

    def redirect(self, request: Request, target: str | None, notice: str, subject: str) -> Response:
        """303 to `target` (a page of this dashboard) or the overview, with the notice."""
        home = root(request) + "/"
        if not target or not target.startswith(home) or target.startswith("//") or "\\" in target:
            target = home
        joiner = "&" if "?" in target else "?"
        return RedirectResponse(f"{target}{joiner}{urlencode({'notice': notice, 'subject': subject})}", 303)

    # -- parameters ----------------------------------------------------------

    @staticmethod
    def state_param(request: Request, name: str, default: ListState) -> ListState:
        value = request.query_params.get(name) or default.value
        try:
            return ListState(value)
        except ValueError:
            raise BadRequest(f"no state {value!r}: one of {', '.join(s.value for s in ListState)}") from None

    @staticmethod
    def state_field(fields: Mapping[str, str]) -> ListState:
        store = fields.get("store", "")
        if store not in (ListState.FAILED.value, ListState.DEAD.value):
            raise BadRequest("store must be failed or dead")
        return ListState(store)

    # -- errors --------------------------------------------------------------

    async def redis_error(self, request: Request, exc: Exception) -> Response:
        """Redis unreachable (or refusing us): the page says so, and tries again."""
        return self.render(
            request, "error.html", status=503, title="Redis unavailable", error=exc, kind=type(exc).__name__
        )

    async def not_found(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, JobNotFound):
            job_id, queue = exc.args
            return self.render(
                request,
                "not_found.html",
                status=404,
                title="Job not found",
                job_id=job_id,
                queue=queue,
                message=None,
            )
        message = "No such page." if isinstance(exc, HTTPException) else str(exc)
        return self.render(
            request,
            "not_found.html",
            status=404,
            title="Not found",
            job_id=None,
            queue=None,
            message=message,
        )

    async def forbidden(self, request: Request, exc: Exception) -> Response:
        return self.render(
            request,
            "message.html",
            status=403,
            title="Forbidden",
            message=str(exc),
            sign_in=self.access.allow_actions,
        )

    async def bad_request(self, request: Request, exc: Exception) -> Response:
        return self.render(
            request, "message.html", status=400, title="Bad request", message=str(exc), sign_in=False
        )

    async def ardiq_error(self, request: Request, exc: Exception) -> Response:
        if isinstance(exc, RedisUnavailable | AuthenticationFailed | RedisCommandError):
            return await self.redis_error(request, exc)
        if isinstance(exc, InvalidQueueName):
            return await self.not_found(request, exc)
        return self.render(
            request,
            "message.html",
            status=500,
            title="Error",
            message=f"{type(exc).__name__}: {exc}",
            sign_in=False,
        )


def host_pattern(host: str) -> str:
    """`host` as a Host header names it: an IPv6 address in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def build(settings: Settings) -> Starlette:
    """The Starlette application of one dashboard."""
    site = Site(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await site.reader.close()

    routes = [
        Route("/", site.page(site.overview), name="overview"),
        Route("/queue", site.page(site.queue), name="queue"),
        Route("/job", site.page(site.job), name="job"),
        Route("/workers", site.page(site.workers), name="workers"),
        Route("/failed", site.page(site.store), name="failed"),
        Route("/dead", site.page(site.store), name="dead"),
        Route("/login", site.login, methods=["GET", "POST"], name="login"),
        Route("/logout", site.logout, methods=["POST"], name="logout"),
        Route("/actions/{action}", site.act, methods=["POST"], name="act"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    application = Starlette(
        routes=routes,
        # Pages need no sign-in, so a page elsewhere that rebinds its own
        # name to this address must not be answered: only known names are.
        middleware=[
            Middleware(
                TrustedHostMiddleware,
                allowed_hosts=[*LOOPBACK_HOSTS, *map(host_pattern, settings.allowed_hosts)],
                www_redirect=False,
            ),
            Middleware(SecurityHeaders),
        ],
        exception_handlers={
            404: site.not_found,
            ArdiqError: site.ardiq_error,
            QueueNotFound: site.not_found,
            JobNotFound: site.not_found,
            Forbidden: site.forbidden,
            BadRequest: site.bad_request,
        },
        lifespan=lifespan,
    )
    application.state.site = site
    return application
