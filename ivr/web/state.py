"""What the web pages share, kept on the application under one typed key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import jinja2
from aiohttp import web
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ivr.config import Settings
from ivr.records.database import sessions as session_maker
from ivr.web.sessions import SessionStore
from ivr.web.throttle import LoginThrottle

T = TypeVar("T")


@dataclass
class WebState:
    settings: Settings
    engine: Engine
    sessions: SessionStore
    throttle: LoginThrottle
    templates: jinja2.Environment
    secure_cookies: bool
    """Cookies carry ``Secure`` when the public URL is https."""

    def __post_init__(self) -> None:
        self._db: sessionmaker[Session] = session_maker(self.engine)

    async def query(self, work: Callable[[Session], T], *, write: bool = False) -> T:
        """``work`` in a database session of its own, in a worker thread: the event loop never
        waits on the database (or on argon2). ``write`` commits."""

        def run() -> T:
            with self._db() as session:
                result = work(session)
                if write:
                    session.commit()
                return result

        return await asyncio.to_thread(run)


WEB = web.AppKey("warmline_web", WebState)
