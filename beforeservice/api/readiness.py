"""GET /readyz: the API is ready when its database answers (`/healthz` stays the liveness probe: the process
serves). An API that cannot reach its database is taken out of the Service's endpoints instead of answering 500s.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from beforeservice.api.deps import SessionsDep
from beforeservice.probes import database_reachable


def install(app: FastAPI) -> None:
    @app.get("/readyz", include_in_schema=False)
    async def readyz(sessions: SessionsDep) -> JSONResponse:
        reachable = await asyncio.to_thread(database_reachable, sessions)
        return JSONResponse(
            {"status": "ok" if reachable else "failing", "database": reachable}, status_code=200 if reachable else 503
        )
