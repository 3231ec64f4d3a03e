"""Sign-in and sign-out: an API token, also set as a session cookie as the original API did."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from interface.http.deps import SESSION_COOKIE, CallerDep, EngineDep, bearer_token
from interface.http.schemas import SignedInPublic, SignIn

router = APIRouter(tags=["auth"])


@router.post("/signin/", response_model=SignedInPublic)
def sign_in(body: SignIn, engine: EngineDep) -> JSONResponse:
    """Exchange an email and password for an API token."""
    signed_in = engine.users.sign_in(body.email, body.password)
    user = signed_in.user
    response = JSONResponse(
        {"token": signed_in.token, "user": {"id": user.id, "email": user.email, "role": user.role}}
    )
    response.set_cookie(SESSION_COOKIE, signed_in.token, httponly=True, samesite="lax")
    return response


@router.post("/signout/", status_code=204)
def sign_out(request: Request, engine: EngineDep, _: CallerDep) -> Response:
    """End the session: the token stops working."""
    token = bearer_token(request)
    if token:
        engine.users.sign_out(token)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE)
    return response
