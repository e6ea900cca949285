"""PAdES seals on PDF files, and their checks, with pyHanko. Runs in a PDF worker.

Sealing is a certification signature (DocMDP "no changes allowed"), PAdES baseline B
(ETSI.CAdES.detached), SHA-256, with an EC P-256 key: every PDF reader that checks
signatures then shows the file as certified by the committee, and any later change, even
an incremental update appended after the seal, as breaking it.

``check_pdf`` reads a file anyone may upload, so it never fetches anything (no revocation or
AIA look-ups: the signer's certificate is compared with the one we hold, not chained to the
internet) and any failure to read is an answer ("unreadable", "not intact"), not an error.
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from asn1crypto import keys, pem, x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

SEAL_FIELD = "CommitteeSeal"


def certificates(pem_text: bytes) -> list[x509.Certificate]:
    """Every certificate in a PEM bundle, the signer's first."""
    return [
        x509.Certificate.load(der)
        for kind, _headers, der in pem.unarmor(pem_text, multiple=True)
        if kind == "CERTIFICATE"
    ]


def seal_pdf(
    pdf: bytes,
    key_pem: bytes,
    passphrase: bytes,
    cert_pem: bytes,
    name: str,
    reason: str,
) -> bytes:
    """``pdf`` with the seal: a certification signature covering the whole file."""
    private = serialization.load_pem_private_key(key_pem, password=passphrase)
    der = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    chain = certificates(cert_pem)
    if not chain:
        raise SigningError("the seal has no certificate")
    signer = signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=keys.PrivateKeyInfo.load(der),
        cert_registry=SimpleCertificateStore.from_certs(chain),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=True,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
        name=name,
        reason=reason,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = signers.PdfSigner(meta, signer).sign_pdf(writer)
    return bytes(out.getvalue())


def check_pdf(pdf: bytes) -> dict[str, Any]:
    """What the file's seal says: present, intact (the bytes it covers are unchanged), valid
    (the signature over them verifies), covering the whole file, who signed it and when.

    ``signed_sha256`` is the SHA-256 of the file as it was when sealed (the revision the
    signature covers), which is the file we stored: it identifies the document even when
    something was appended to it afterwards."""
    answer: dict[str, Any] = {
        "readable": False,
        "signed": False,
        "intact": False,
        "valid": False,
        "whole_file": False,
        "certified_unchanged": False,
        "signer_cert_der": None,
        "signer": None,
        "signed_at": None,
        "reason": None,
        "signed_sha256": None,
        "problem": None,
    }
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_regular_signatures
    except Exception as exc:  # any file at all may be uploaded
        answer["problem"] = f"unreadable: {type(exc).__name__}"
        return answer
    answer["readable"] = True
    if not signatures:
        return answer
    answer["signed"] = True
    seal = next((s for s in signatures if s.field_name == SEAL_FIELD), signatures[0])
    try:
        cert = seal.signer_cert
        answer["signer_cert_der"] = cert.dump()
        subject = cert.subject.native
        answer["signer"] = str(subject.get("common_name") or subject.get("organization_name"))
        reason = seal.sig_object.get("/Reason")
        answer["reason"] = str(reason) if reason is not None else None
        start, length = int(seal.byte_range[2]), int(seal.byte_range[3])
        answer["signed_sha256"] = hashlib.sha256(pdf[: start + length]).hexdigest()
        context = ValidationContext(trust_roots=[cert], allow_fetching=False)
        status = validate_pdf_signature(seal, context)
    except Exception as exc:
        answer["problem"] = f"signature unreadable: {type(exc).__name__}: {exc}"[:300]
        return answer
    answer["intact"] = bool(status.intact)
    answer["valid"] = bool(status.valid)
    answer["whole_file"] = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    answer["certified_unchanged"] = bool(status.docmdp_ok) and answer["whole_file"]
    reported = status.signer_reported_dt
    answer["signed_at"] = reported.isoformat() if reported else None
    return answer
