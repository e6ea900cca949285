"""Documents over HTTP: the stored PDF for those who may see its case, and verification of
any PDF for anyone (the API and the /verify page the QR code leads to)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.types import Message

from service import pages
from service.auth import CurrentPrincipal, OptionalPrincipal, viewable_case
from service.db import SessionDep
from service.documents import service as documents_service
from service.documents.models import Document
from service.documents.schemas import IssuedOut, VerifyOut
from service.errors import Invalid, MediationError, NotFound, TooLarge
from service.i18n import N_, gettext
from service.settings import Settings

api = APIRouter(prefix="/api/documents", tags=["documents"])
page_router = APIRouter(include_in_schema=False)

SHA256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="the file's SHA-256")]
NO_FILE = N_("Choose the PDF file of the document to check.")
TOO_LARGE = N_(
    "This file is larger than {megabytes} MB, more than any document we issue. Check that"
    " you chose the right file."
)
NO_SUCH_DOCUMENT = N_("No such document.")
KIND_LABELS = {
    "agreement": N_("Mediation agreement"),
    "ruling": N_("Confirmation ruling"),
    "record": N_("Mediation record"),
}
# A multipart body carries its boundaries and part headers besides the file itself.
_MULTIPART_SLACK = 64 * 1024
_PDF_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def read_pdf(request: Request) -> bytes:
    """The uploaded file: the raw body (``application/pdf``), or the ``file`` part of a
    multipart form. Read with a bound, so a huge upload costs us no more than the bound."""
    limit = _settings(request).pdf.max_verify_bytes
    too_large = TooLarge(TOO_LARGE, megabytes=limit // (1024 * 1024))
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit + _MULTIPART_SLACK:
            raise too_large
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    data = bytes(body)
    if media_type == "multipart/form-data":
        data = await _file_part(request, data, limit)
    if len(data) > limit:
        raise too_large
    if not data:
        raise Invalid(NO_FILE, field="file")
    return data


async def _file_part(request: Request, body: bytes, limit: int) -> bytes:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=5)
    except (HTTPException, MultiPartException):  # malformed: Starlette's 400, or its cause
        raise Invalid(NO_FILE, field="file") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Invalid(NO_FILE, field="file")
        data: bytes = await upload.read(limit + 1)
        return data
    finally:
        await form.close()


async def _viewable_document(
    session: SessionDep, principal: CurrentPrincipal, sha256: SHA256
) -> Document:
    """A document of a case the caller may read. The same refusal whether or not the
    document exists, so its hash reveals nothing to an outsider."""
    document = await documents_service.by_sha256(session, sha256)
    try:
        # ViewableCase's rule (a role refused before anything is looked up).
        await viewable_case(session, principal, document.case_id if document else 0)
    except NotFound:
        raise NotFound(NO_SUCH_DOCUMENT) from None
    if document is None:
        raise NotFound(NO_SUCH_DOCUMENT)
    return document


ViewableDocument = Annotated[Document, Depends(_viewable_document)]


@api.post(
    "/verify",
    response_model=VerifyOut,
    openapi_extra=_PDF_BODY,
    responses={
        413: {"description": "over the size limit"},
        422: {
            "description": "no file, or not a PDF",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
            },
        },
        503: {"description": "the PDF workers are busy or failing: try again later"},
    },
)
async def verify_document(request: Request, session: SessionDep) -> VerifyOut:
    """Whether this service issued the PDF given, which document it is, and whether its
    seal is intact. Anyone may ask: the answer names the case number and the issuer only."""
    pdf = await read_pdf(request)
    result = await documents_service.verify(session, pdf=pdf, workers=request.app.state.pdf)
    return VerifyOut.of(result)


@api.get(
    "/{sha256}",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the stored PDF"}},
)
async def download_document(request: Request, document: ViewableDocument) -> Response:
    """The stored PDF, for whoever may see its case."""
    data: bytes = await request.app.state.store.get_bytes_async(document.sha256)
    filename = f"{document.kind}-{documents_service.format_code(document.code)}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


# -- the /verify page ---------------------------------------------------------------------


@page_router.get("/verify", response_class=HTMLResponse)
async def verify_page(
    request: Request, session: SessionDep, principal: OptionalPrincipal, code: str = ""
) -> Response:
    """The upload form; with ``?code=`` (the QR code's link), what that code refers to."""
    context: dict[str, Any] = {"code": code[:40], "looked_up": False, "found": None}
    if code:
        context["looked_up"] = True
        normal = documents_service.normalise_code(code)
        document = await documents_service.by_code(session, normal) if normal else None
        if document is not None:
            issued = await documents_service.describe(session, document)
            context["found"] = IssuedOut.of(issued)
    return pages.render(request, "verify.html", kind_labels=KIND_LABELS, **context)


@page_router.post("/verify", response_class=HTMLResponse)
async def verify_upload(request: Request, session: SessionDep) -> Response:
    """A file sent from the form: the verdict on the same page. No principal is read: the
    check is the same for anyone, and a plain form carries no CSRF header."""
    try:
        pdf = await read_pdf(request)
        result = await documents_service.verify(session, pdf=pdf, workers=request.app.state.pdf)
    except (Invalid, TooLarge) as refused:
        return pages.render(
            request,
            "verify.html",
            status_code=refused.status_code,
            code="",
            looked_up=False,
            found=None,
            problem=_message(request, refused),
            kind_labels=KIND_LABELS,
        )
    return pages.render(
        request,
        "verify.html",
        code="",
        looked_up=False,
        found=None,
        result=VerifyOut.of(result),
        kind_labels=KIND_LABELS,
    )


def _message(request: Request, error: MediationError) -> str:
    return gettext(request.state.language, error.message, **error.params)
