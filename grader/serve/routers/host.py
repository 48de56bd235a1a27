"""The host's page, behind the host link: the queue, what is running, what could not be graded, the audit.

The host's actions (roster, tokens, regrades, quotas, closing early, the gradebook) are `grade host`
commands on the same database: nothing here changes anything."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from grader.serve.dependencies import ServiceDep, signed_in_host
from grader.serve.host_views import overview
from grader.serve.pages import render

router = APIRouter(prefix="/host", dependencies=[Depends(signed_in_host)])


@router.get("", response_class=HTMLResponse)
def host_page(request: Request, service: ServiceDep, _: Annotated[None, Depends(signed_in_host)]):
    return render(request, "host.html", **overview(service))
